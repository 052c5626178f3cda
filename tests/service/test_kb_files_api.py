"""Import and export through the owner API, and the unanswered-questions inbox."""

from __future__ import annotations

import csv
import io

import aiohttp
import yaml
from sqlalchemy import select

from knowledge.inbox import group_questions
from core.db import KBEntry, UnansweredQuestion
from tests.service.conftest import db_session
from tests.service.test_kb_admin import bearer


async def test_export_yaml_and_csv(client):
    owner = bearer(client, "exporter", "owner")
    response = await client.get("/api/kb/export?format=yaml", headers=owner)
    entries = yaml.safe_load(await response.text())["entries"]
    assert response.status == 200 and len(entries) >= 120
    response = await client.get("/api/kb/export?format=csv", headers=owner)
    assert (await response.text()).startswith("id,topic,product,questions,answer")


async def test_bad_upload_names_line_and_field_and_changes_nothing(client, settings):
    owner = bearer(client, "importer", "owner")
    form = aiohttp.FormData()
    form.add_field("file", "id,topic,product,questions,answer\nshipping-fee,shipping,,邮费|运费,全部包邮\n"
                           "x-2,nonsense,,问,答\n", filename="kb.csv")
    response = await client.post("/api/kb/import", data=form, headers=owner)
    body = await response.json()
    assert response.status == 422 and "kb.csv: line 3: field `topic`" in body["error"]
    with db_session(settings) as session:
        assert session.get(KBEntry, "shipping-fee").answer != "全部包邮"


async def test_good_upload_is_live(client):
    owner = bearer(client, "importer2", "owner")
    form = aiohttp.FormData()
    form.add_field("file", "entries:\n- {id: panda-toy, topic: other, questions: [熊猫玩偶有卖吗], answer: 有的}\n",
                   filename="kb.yml")
    response = await client.post("/api/kb/import", data=form, headers=owner)
    assert (await response.json()) == {"created": 1, "updated": 0}
    hits = (await (await client.post("/api/kb/search", json={"q": "熊猫玩偶有卖吗"}, headers=owner)).json())["hits"]
    assert hits[0]["id"] == "panda-toy"


async def test_questions_that_went_to_staff_reach_the_inbox_and_can_be_resolved(client, settings):
    owner = bearer(client, "inbox", "owner")
    for sender, text in (("web-i1", "你们卖不卖熊猫玩偶"), ("web-i2", "你们卖不卖熊猫玩偶？")):
        await client.post(f"/api/chat/{sender}", json={"text": text})  # Rasa down: handed to staff
    groups = (await (await client.get("/api/kb/unanswered", headers=owner)).json())["groups"]
    assert len(groups) == 1 and groups[0]["count"] == 2 and groups[0]["reasons"] == ["bot_unavailable"]
    response = await client.post("/api/kb/unanswered/resolve",
                                 json={"ids": groups[0]["ids"], "entry_id": "shop-hours"}, headers=owner)
    assert (await response.json()) == {"resolved": 2}
    assert (await (await client.get("/api/kb/unanswered", headers=owner)).json())["groups"] == []
    with db_session(settings) as session:
        assert {q.entry_id for q in session.scalars(select(UnansweredQuestion))} == {"shop-hours"}


def test_grouping_separates_different_questions(knowledge):
    groups = group_questions(knowledge, [(1, "熊猫玩偶有卖吗", "unsure"), (2, "熊猫玩偶有卖吗？", "unsure"),
                                         (3, "可以寄到南极吗", "unsure")])
    assert [g.ids for g in groups] == [[1, 2], [3]]


async def test_english_answers_go_out_and_come_back_through_export_and_import(client, settings):
    owner = bearer(client, "exporter-en", "owner")
    english = 'Free shipping over 99 yuan, "door to door", in 2-4 days.'
    with db_session(settings) as session:
        session.get(KBEntry, "shipping-fee").answer_en = english
        session.get(KBEntry, "shop-hours").answer_en = ""
        session.commit()

    yaml_text = await (await client.get("/api/kb/export?format=yaml", headers=owner)).text()
    exported = {e["id"]: e for e in yaml.safe_load(yaml_text)["entries"]}
    assert exported["shipping-fee"]["answer_en"] == english and exported["shop-hours"]["answer_en"] == ""
    csv_text = await (await client.get("/api/kb/export?format=csv", headers=owner)).text()
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(csv_text))}
    assert csv_text.startswith("id,topic,product,questions,answer,tags,answer_en\r\n")
    assert rows["shipping-fee"]["answer_en"] == english and rows["shop-hours"]["answer_en"] == ""

    # The owner edits the English answer in the exported CSV and imports it again.
    rows["shipping-fee"]["answer_en"] = "Shipping is free on orders over 99 yuan."
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(next(iter(rows.values()))))
    writer.writeheader()
    writer.writerow(rows["shipping-fee"])
    form = aiohttp.FormData()
    form.add_field("file", out.getvalue(), filename="kb.csv")
    response = await client.post("/api/kb/import", data=form, headers=owner)
    assert (await response.json()) == {"created": 0, "updated": 1}
    with db_session(settings) as session:
        assert session.get(KBEntry, "shipping-fee").answer_en == "Shipping is free on orders over 99 yuan."

    # A CSV in the old five-column form still imports, and leaves the English answer as it was.
    form = aiohttp.FormData()
    form.add_field("file", "id,topic,product,questions,answer\nshipping-fee,shipping,,邮费|运费,满99元包邮\n",
                   filename="old.csv")
    response = await client.post("/api/kb/import", data=form, headers=owner)
    assert (await response.json()) == {"created": 0, "updated": 1}
    with db_session(settings) as session:
        row = session.get(KBEntry, "shipping-fee")
        assert (row.answer, row.answer_en) == ("满99元包邮", "Shipping is free on orders over 99 yuan.")

    form = aiohttp.FormData()
    form.add_field("file", "entries:\n- {id: panda-toy, topic: other, questions: [熊猫玩偶有卖吗], answer: 有的,"
                           " answer_en: 'Yes, 59 yuan each.'}\n", filename="kb.yml")
    response = await client.post("/api/kb/import", data=form, headers=owner)
    assert (await response.json()) == {"created": 1, "updated": 0}
    entry = (await (await client.get("/api/kb/entries/panda-toy", headers=owner)).json())["entry"]
    assert entry["answer_en"] == "Yes, 59 yuan each."
