"""The limiter on Redis: the same answers as the process-local one, shared by instances, open if Redis is gone."""

from __future__ import annotations

import pytest
import redis.asyncio as redis

from core.limits import MemoryLimiter, RedisLimiter
from techan.app import create_app
from tests.redis_server import redis_server
from web.keys import LIMITS


@pytest.fixture
def redis_url(tmp_path):
    with redis_server(tmp_path) as url:
        yield url


async def test_two_instances_share_one_allowance(redis_url):
    first, second = (redis.from_url(redis_url) for _ in range(2))
    try:
        one, two = RedisLimiter(first), RedisLimiter(second)
        waits = [await (one if i % 2 else two).hit("address:198.51.100.7", 5, 60) for i in range(7)]
        assert waits[:5] == [0.0] * 5
        assert 11.0 < waits[5] <= 12.0 and 11.0 < waits[6] <= 12.0  # refused hits are not counted
        assert await one.hit("address:198.51.100.8", 5, 60) == 0.0  # another key
        ttl = await first.pttl("techan:limit:address:198.51.100.7")
        assert 59_000 < ttl <= 60_000  # the key goes once its allowance is whole again
        assert await one.hit("login:addr:198.51.100.9", 1, 60, spend=False) == 0.0  # a look spends nothing
        assert await first.exists("techan:limit:login:addr:198.51.100.9") == 0
        assert await two.hit("login:addr:198.51.100.9", 1, 60) == 0.0
        assert await one.hit("login:addr:198.51.100.9", 1, 60, spend=False) > 59.0  # and sees the other's
    finally:
        await first.aclose()
        await second.aclose()


async def test_redis_and_memory_limiters_agree(redis_url):
    client = redis.from_url(redis_url)
    try:
        shared, local = RedisLimiter(client), MemoryLimiter()
        for limit, window in ((1, 60), (3, 10), (20, 60)):
            key = f"k{limit}"
            expected = [await local.hit(key, limit, window, spend=n % 2 == 0) > 0 for n in range(2 * limit + 2)]
            assert [await shared.hit(key, limit, window, spend=n % 2 == 0) > 0
                    for n in range(2 * limit + 2)] == expected
    finally:
        await client.aclose()


async def test_without_redis_messages_are_let_through_and_it_is_logged(caplog):
    client = redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    try:
        limiter = RedisLimiter(client)
        assert [await limiter.hit("address:x", 1, 60) for _ in range(3)] == [0.0, 0.0, 0.0]
        assert "rate limits not applied: Redis unreachable (ConnectionError)" in caplog.text
    finally:
        await client.aclose()


async def test_the_app_uses_redis_when_the_setting_names_it(aiohttp_client, settings, knowledge, redis_url):
    from tests.service.conftest import migrated_demo_shop

    migrated_demo_shop(settings)
    shared = await aiohttp_client(create_app(settings.model_copy(update={"redis_url": redis_url}), knowledge=knowledge))
    assert isinstance(shared.app[LIMITS], RedisLimiter)
    alone = await aiohttp_client(create_app(settings, knowledge=knowledge))
    assert isinstance(alone.app[LIMITS], MemoryLimiter)
