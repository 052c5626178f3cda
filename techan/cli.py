"""``techan``: one command line for running the shop and managing its data."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from core.settings import Settings

log = logging.getLogger("techan")


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    for noisy in ("faiss", "httpx", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Alembic says which database driver it uses on every start; only a migration that runs is worth a line
    logging.getLogger("alembic.runtime.migration").addFilter(
        lambda record: not record.getMessage().startswith(("Context impl", "Will assume")))
    # rasa_sdk warns for every slot a form sets without a validate_<slot> method (language, on every message)
    logging.getLogger("rasa_sdk.forms").addFilter(
        lambda record: not record.getMessage().startswith("Skipping validation for"))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@contextmanager
def db_session(settings: Settings):
    """A committed-on-success session on a migrated database."""
    from sqlalchemy.orm import Session

    from core.db import make_engine
    from core.migrate import upgrade

    engine = make_engine(settings)
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session
    engine.dispose()


def prepare_database(settings: Settings) -> None:
    """Migrate, and load the demo shop into an empty database when TECHAN_DEMO is on."""
    from knowledge.store import load_demo, shop_is_empty

    with db_session(settings) as session:
        if settings.demo and shop_is_empty(session):
            load_demo(session)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    import jieba

    from techan.app import create_app
    from techan.serving import serve

    jieba.setLogLevel(logging.WARNING)  # its import sets DEBUG and prints its dictionary loading to stderr
    prepare_database(settings)
    print(f"techan app: http://{settings.host}:{settings.port}/ (web chat), /healthz", flush=True)
    asyncio.run(serve(create_app(settings), settings.host, settings.port))  # Ctrl-C: drains, then stops
    return 0


def cmd_rasa(settings: Settings, args: argparse.Namespace) -> int:
    from techan.rasa_process import rasa_env, server_command

    command = server_command(settings)
    os.execve(command[0], command, rasa_env())
    return 0  # pragma: no cover - execve does not return


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from techan.supervisor import run_stack

    return run_stack(settings)


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    from techan.rasa_process import train

    train(settings, force=args.force)
    return 0


def cmd_model_provision(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge.provision import provision

    path = provision(settings.embedding_model, settings.models_path)
    print(path)
    return 0


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    with db_session(settings):
        pass
    print("database: up to date")
    return 0


def cmd_demo_load(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge.store import load_demo

    with db_session(settings) as session:
        load_demo(session)
    knowledge_changed(settings)
    return 0


def _import(settings: Settings, importer_name: str, path: str, label: str) -> int:
    """Validate the whole file, then upsert in one transaction (nothing changes on error)."""
    from knowledge import store

    with db_session(settings) as session:
        created, updated = getattr(store, importer_name)(session, Path(path))
    print(f"{label}: {created} added, {updated} updated")
    knowledge_changed(settings)
    return 0


def knowledge_changed(settings: Settings) -> None:
    """Running instances reload at once when Redis can tell them (else they see it within a second)."""
    from handoff.relay import tell_instances_knowledge_changed

    if tell_instances_knowledge_changed(settings):
        print("the running app instances were told")


def cmd_kb_import(settings: Settings, args: argparse.Namespace) -> int:
    return _import(settings, "import_kb_file", args.file, "knowledge base")


def cmd_kb_export(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge.files import write_kb_file
    from knowledge.store import kb_export_items

    with db_session(settings) as session:
        items = kb_export_items(session)
    write_kb_file(Path(args.file), items)
    print(f"knowledge base: {len(items)} entries written to {args.file}")
    return 0


def load_knowledge(settings: Settings):
    from knowledge.service import Knowledge, read_snapshot

    knowledge = Knowledge.from_settings(settings, progress=lambda m: print(m, file=sys.stderr))
    with db_session(settings) as session:
        knowledge.apply(read_snapshot(session))
    return knowledge


def cmd_kb_search(settings: Settings, args: argparse.Namespace) -> int:
    if not args.query and not args.file:
        raise SystemExit("techan kb search: give a question, or --file QUERIES.txt")
    knowledge = load_knowledge(settings)
    queries = [args.query] if args.query else [
        line.strip() for line in Path(args.file).read_text(encoding="utf-8").splitlines() if line.strip()]
    product = knowledge.catalog.resolve(args.product) if args.product else None
    if args.product and product is None:
        raise SystemExit(f"techan kb search: no product {args.product!r} in the catalog")
    for query in queries:
        hits = knowledge.search(query, k=args.k, topic=args.topic, product=product)
        # What the bot would answer (the action's path): a hit is "answered" when it is that answer.
        bot = knowledge.answer(query, context=product).answered_by
        if args.json:
            print(json.dumps([{"id": h.id, "score": round(h.score, 4), "answer": h.entry.answer,
                               "topic": h.entry.topic, "product": h.entry.product,
                               "answered": bot == f"kb:{h.id}"} for h in hits],
                             ensure_ascii=False), flush=True)
        else:
            print(f"? {query}")
            for hit in hits:
                print(f"  {hit.score:.3f}  {hit.id:<32} {hit.entry.questions[0]}")
            print(f"  the bot answers: {bot}")
    return 0


def cmd_kb_eval(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge.evaluation import evaluate, read_questions, table

    knowledge = load_knowledge(settings)
    pairs = read_questions(Path(args.file), knowledge.index)
    results = evaluate(knowledge.index, pairs)
    print(table(results, len(pairs)))
    if args.misses:
        hybrid = next(r for r in results if r.signal == "hybrid" and not r.filtered)
        for question, expected, got in hybrid.misses:
            print(f"  miss: {question}  expected {expected}, got {got}")
    return 0


def cmd_kb_quality(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge.quality import HALVES, TARGET_CORRECT, TARGET_WRONG, evaluate, rasa_reader, read_cases

    prepare_database(settings)
    knowledge = load_knowledge(settings)
    read = rasa_reader(args.rasa, settings.rasa_token) if args.rasa else None
    halves = ("dev", "test") if args.half == "both" else (args.half,)
    reports = [evaluate(knowledge, half, read_cases(HALVES[half], knowledge), read) for half in halves]
    for report in reports:
        print(json.dumps(report.figures(), ensure_ascii=False) if args.json else report.line(), flush=True)
        if args.misses and report.half != "test":  # the test half stays unseen
            for case, outcome, right in report.results:
                if not right:
                    print(f"  {case.text}  ->  {outcome}  (expected {', '.join(case.answers)})")
    test = next((r for r in reports if r.half == "test"), None)
    if args.check:
        if test is None:
            raise SystemExit("techan kb quality --check measures the test half: use --half test or both")
        if test.correct < TARGET_CORRECT or test.confidently_wrong > TARGET_WRONG:
            print(f"below target on the test half: correct {test.correct:.3f} (>= {TARGET_CORRECT}), "
                  f"confidently wrong {test.confidently_wrong:.3f} (<= {TARGET_WRONG})")
            return 1
        print(f"test half meets its targets (correct >= {TARGET_CORRECT}, confidently wrong <= {TARGET_WRONG})")
    return 0


def cmd_catalog_import(settings: Settings, args: argparse.Namespace) -> int:
    return _import(settings, "import_catalog_file", args.file, "catalog")


def cmd_gift_recommend(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge.budget import Budget
    from knowledge.gifts import dietary_needs, recommend
    from knowledge.store import catalog_snapshot

    with db_session(settings) as session:
        catalog = catalog_snapshot(session)
    budget = Budget(0, args.budget) if args.budget else None
    picks = recommend(catalog, args.recipient, args.occasion, budget, needs=dietary_needs(args.wish or ""))
    if args.json:
        print(json.dumps([{"id": r.product.id, "name": r.product.name, "price": float(r.product.price),
                           "score": round(r.score, 3), "reason": r.reason} for r in picks], ensure_ascii=False))
    else:
        for r in picks:
            print(f"{r.product.id:<24} ¥{Decimal(r.product.price):>8.2f}  {r.product.name}  — {r.reason}")
    return 0


def new_password(args: argparse.Namespace) -> tuple[str, bool]:
    """``--password``, else asked at a terminal, else generated (and then printed): (password, generated)."""
    import getpass
    import secrets

    if args.password is not None:
        return args.password, False
    if sys.stdin.isatty():
        return getpass.getpass(f"password for {args.name}: "), False
    return secrets.token_urlsafe(12), True


def cmd_staff_add(settings: Settings, args: argparse.Namespace) -> int:
    from core.accounts import add_staff

    password, generated = new_password(args)
    try:
        with db_session(settings) as session:
            account = add_staff(session, args.name, args.role, password, args.display_name)
    except ValueError as exc:
        print(f"techan staff add: {exc}", file=sys.stderr)
        return 1
    print(f"{account.role} account {account.name!r} created" + (f"; password: {password}" if generated else ""))
    return 0


def cmd_staff_rename(settings: Settings, args: argparse.Namespace) -> int:
    from core.accounts import named, set_display_name

    try:
        with db_session(settings) as session:
            account = named(session, args.name)
            set_display_name(session, account, args.display_name)
            shown = account.shown_name
    except (LookupError, ValueError) as exc:
        print(f"techan staff rename: {exc.args[0]}", file=sys.stderr)
        return 1
    print(f"customers now see {args.name!r} as {shown!r}")
    return 0


def cmd_staff_token(settings: Settings, args: argparse.Namespace) -> int:
    from core.accounts import api_token, named

    try:
        with db_session(settings) as session:
            account = named(session, args.name)
            if not account.active:
                raise LookupError(f"account {args.name!r} is disabled")
            print(api_token(settings.secret, account, args.days))
    except (LookupError, ValueError) as exc:
        print(f"techan staff token: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_staff_access(settings: Settings, args: argparse.Namespace) -> int:
    """disable | enable | passwd | revoke NAME: each ends what it must at once, in every process."""
    from core import accounts

    password, generated = new_password(args) if args.staff_command == "passwd" else ("", False)
    changes = {
        "disable": (accounts.disable, "disabled: it cannot sign in, and its sessions and tokens no longer work"),
        "enable": (accounts.enable, "enabled: it can sign in again (old sessions and tokens stay ended)"),
        "passwd": (lambda session, account: accounts.set_password(session, account, password),
                   "has a new password; its sessions and tokens no longer work"
                   + (f"; password: {password}" if generated else "")),
        "revoke": (accounts.revoke, "signed out everywhere: its sessions and tokens no longer work"),
    }
    change, done = changes[args.staff_command]
    try:
        with db_session(settings) as session:
            account = accounts.named(session, args.name)
            change(session, account)
    except (LookupError, ValueError) as exc:
        print(f"techan staff {args.staff_command}: {exc.args[0]}", file=sys.stderr)
        return 1
    print(f"{account.role} account {account.name!r} {done}")
    return 0


def cmd_kb_rollback(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge.store import entry_history, rollback_entry

    with db_session(settings) as session:
        if args.revision is None:
            for change in entry_history(session, args.id):
                restored = (change.after or {}).get("restored_from")
                print(f"r{change.revision:<4} {change.created_at:%Y-%m-%d %H:%M} {change.action:<8} {change.author}"
                      + (f"  (restored r{restored})" if restored else ""))
            return 0
        try:
            rollback_entry(session, args.id, args.revision, author=os.environ.get("USER", "cli"))
        except LookupError as exc:
            print(f"techan kb rollback: {exc}", file=sys.stderr)
            return 1
    print(f"{args.id}: back to revision {args.revision} (kept as a new revision)")
    knowledge_changed(settings)
    return 0


def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    from core.retention import purge

    days = args.days or settings.retention_days
    if not days:
        print("techan purge: no retention period: set TECHAN_RETENTION_DAYS or pass --days N", file=sys.stderr)
        return 2
    with db_session(settings) as session:
        report = purge(session, settings.data_path, days, dry_run=args.dry_run)
    report.remove_files()
    print(report.summary())
    for path in report.media + report.recordings if args.dry_run else ():
        print(f"  {path}")
    return 0


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from core.backup import backup

    target = Path(args.file or f"techan-backup-{datetime.now():%Y%m%d-%H%M%S}.tar.gz")
    print(f"backing up the shop at {settings.data_path} into {target}")
    counts = backup(settings, target)
    print(f"done: {sum(counts.values())} rows, {target.stat().st_size // 1024} KB in {target} (owner-only: it holds "
          "the secret key that signs chat and call links)")
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from core.backup import restore

    print(f"restoring {args.file} into the shop at {settings.data_path}")
    counts = restore(settings, Path(args.file))
    print(f"done: {sum(counts.values())} rows restored; start the shop with `techan run`")
    return 0


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days (1 or more)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    from knowledge.files import OCCASIONS, RECIPIENTS, TOPICS

    parser = argparse.ArgumentParser(prog="techan", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="start the app and the Rasa server, stop both on Ctrl-C").set_defaults(func=cmd_run)
    sub.add_parser("serve", help="start the app alone").set_defaults(func=cmd_serve)
    sub.add_parser("rasa", help="start the Rasa server alone").set_defaults(func=cmd_rasa)
    train = sub.add_parser("train", help="train the Rasa model if bot/ or config.yml changed")
    train.add_argument("--force", action="store_true", help="train even if nothing changed")
    train.set_defaults(func=cmd_train)

    model = sub.add_parser("model", help="embedding model").add_subparsers(dest="model_command", required=True)
    model.add_parser("provision", help="make the embedding model available offline").set_defaults(
        func=cmd_model_provision)
    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)
    demo = sub.add_parser("demo", help="demo shop").add_subparsers(dest="demo_command", required=True)
    demo.add_parser("load", help="load (or refresh) the demo catalog, KB and shipping table").set_defaults(
        func=cmd_demo_load)

    kb = sub.add_parser("kb", help="knowledge base").add_subparsers(dest="kb_command", required=True)
    kb_import = kb.add_parser("import", help="upsert entries from YAML or CSV")
    kb_import.add_argument("file")
    kb_import.set_defaults(func=cmd_kb_import)
    kb_export = kb.add_parser("export", help="write all entries to YAML or CSV")
    kb_export.add_argument("file")
    kb_export.set_defaults(func=cmd_kb_export)
    search = kb.add_parser("search", help="search the knowledge base")
    search.add_argument("query", nargs="?")
    search.add_argument("--file", help="one query per line; one JSON line per query with --json")
    search.add_argument("--topic", choices=TOPICS)
    search.add_argument("--product", help="catalog id or product name")
    search.add_argument("--k", type=int, default=5)
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=cmd_kb_search)
    evaluation = kb.add_parser("eval", help="top-1/top-3/MRR on a held-out question set (YAML)")
    evaluation.add_argument("file", nargs="?", default=str(Path(__file__).resolve().parent.parent
                                                            / "knowledge" / "eval" / "heldout.yml"))
    evaluation.add_argument("--misses", action="store_true", help="list the questions the hybrid ranks wrong")
    evaluation.set_defaults(func=cmd_kb_eval)

    quality = kb.add_parser("quality", help="score the bot's answers on the shop's answer-quality set")
    quality.add_argument("--half", default="both",
                         choices=("dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "dev9", "dev10", "dev11",
                                  "dev12", "dev13", "dev14", "dev15", "dev16", "dev17", "dev18", "dev19", "dev20", "dev21",
                                  "dev22", "dev23", "dev24", "test", "both"),
                         help="dev, dev2 … dev24: may be looked at while tuning; test: only measured; both: dev and test")
    quality.add_argument("--rasa", metavar="URL", help="a running Rasa server: read intents and entities as the bot does")
    quality.add_argument("--check", action="store_true",
                         help="exit 1 when the test half misses its targets (correct, confidently wrong)")
    quality.add_argument("--misses", action="store_true", help="list the messages answered wrongly (dev halves only)")
    quality.add_argument("--json", action="store_true")
    quality.set_defaults(func=cmd_kb_quality)

    history = kb.add_parser("rollback", help="list an entry's revisions, or restore one")
    history.add_argument("id")
    history.add_argument("revision", nargs="?", type=int)
    history.set_defaults(func=cmd_kb_rollback)

    staff = sub.add_parser("staff", help="staff and owner accounts").add_subparsers(dest="staff_command", required=True)
    staff_add = staff.add_parser("add", help="create an account (asks for the password at a terminal)")
    staff_add.add_argument("name")
    staff_add.add_argument("--role", choices=("owner", "staff"), required=True)
    staff_add.add_argument("--password", help="at least 8 characters (default: ask, or generate without a terminal)")
    staff_add.add_argument("--display-name", help='what customers see, e.g. 小王 (default: the name)')
    staff_add.set_defaults(func=cmd_staff_add)
    staff_rename = staff.add_parser("rename", help="set the name customers see (\"店员 小王 已接入\")")
    staff_rename.add_argument("name")
    staff_rename.add_argument("display_name", help='e.g. 小王; "" for the account name')
    staff_rename.set_defaults(func=cmd_staff_rename)
    staff_token = staff.add_parser("token", help="print a bearer token for scripts")
    staff_token.add_argument("name")
    staff_token.add_argument("--days", type=int, default=90, help="1-90 (default 90)")
    staff_token.set_defaults(func=cmd_staff_token)
    for command, text in (("disable", "stop an account signing in and end its sessions and tokens"),
                          ("enable", "let a disabled account sign in again"),
                          ("passwd", "set a new password (ends the account's sessions and tokens)"),
                          ("revoke", "end every session and token of an account")):
        change = staff.add_parser(command, help=text)
        change.add_argument("name")
        if command == "passwd":
            change.add_argument("--password", help="at least 8 characters (default: ask, or generate without a terminal)")
        change.set_defaults(func=cmd_staff_access)

    purge = sub.add_parser("purge", help="delete messages, attachments and call recordings past the retention period")
    purge.add_argument("--days", type=positive_int, help="keep this many days (default: TECHAN_RETENTION_DAYS)")
    purge.add_argument("--dry-run", action="store_true", help="only say what would go")
    purge.set_defaults(func=cmd_purge)

    backup = sub.add_parser("backup", help="write the whole shop (database, media, recordings) into one archive")
    backup.add_argument("file", nargs="?", help="the archive to write (default: techan-backup-<time>.tar.gz here)")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="load a backup into a new, empty shop (SQLite or PostgreSQL)")
    restore.add_argument("file")
    restore.set_defaults(func=cmd_restore)

    catalog = sub.add_parser("catalog", help="catalog").add_subparsers(dest="catalog_command", required=True)
    catalog_import = catalog.add_parser("import", help="upsert products from YAML")
    catalog_import.add_argument("file")
    catalog_import.set_defaults(func=cmd_catalog_import)

    gift = sub.add_parser("gift", help="gifts").add_subparsers(dest="gift_command", required=True)
    rec = gift.add_parser("recommend", help="recommend three gifts")
    rec.add_argument("--recipient", choices=RECIPIENTS, required=True)
    rec.add_argument("--occasion", choices=OCCASIONS, required=True)
    rec.add_argument("--budget", type=int, help="upper limit in yuan")
    rec.add_argument("--wish", help='the customer\'s words, for dietary needs such as "糖尿病，不吃辣"')
    rec.add_argument("--json", action="store_true")
    rec.set_defaults(func=cmd_gift_recommend)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic ValidationError: say which setting is wrong
        print(f"techan: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    from core.backup import BackupError
    from knowledge.files import ImportFileError

    try:
        return args.func(settings, args)
    except ImportFileError as exc:
        print(f"techan: {exc} (nothing was changed)", file=sys.stderr)
        return 1
    except BackupError as exc:
        print(f"techan {args.command}: {exc}", file=sys.stderr)
        return 1
    except (RuntimeError, OSError) as exc:
        print(f"techan: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
