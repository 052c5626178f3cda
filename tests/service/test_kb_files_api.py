"""Import and export through the owner API, and the unanswered-questions inbox."""

from __future__ import annotations

import aiohttp
import yaml
from sqlalchemy import select

from knowledge.inbox import group_questions
from techan.db import KBEntry, UnansweredQuestion
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
