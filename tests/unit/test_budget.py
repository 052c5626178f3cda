import pytest

from knowledge.budget import Budget, chinese_number, parse_budget

FORMS = [
    ("300", 210, 330), ("三百", 210, 330), ("300元", 210, 330), ("300块", 210, 330),
    ("三百多", 300, 400), ("300多", 300, 400), ("100多", 100, 200), ("一千多", 1000, 2000),
    ("两三百", 200, 300), ("一两百", 100, 200), ("三五百", 300, 500), ("七八十", 70, 80),
    ("500以内", 0, 500), ("五百以内", 0, 500), ("500元以内", 0, 500), ("两百以下", 0, 200),
    ("不超过800", 0, 800), ("最多一千", 0, 1000), ("1000封顶", 0, 1000),
    ("一千左右", 800, 1200), ("1000左右", 800, 1200), ("大概600", 480, 720), ("差不多五百", 400, 600),
    ("三百上下", 240, 360), ("1k", 700, 1100), ("1K左右", 800, 1200), ("1.5k", 1050, 1650),
    ("2w", 14000, 22000), ("两万以内", 0, 20000), ("300-500", 300, 500), ("300到500", 300, 500),
    ("三到五百", 300, 500), ("200~400", 200, 400), ("一千二", 840, 1320), ("三百五", 245, 385),
    ("预算两百块", 140, 220), ("两百块钱左右", 160, 240), ("五百以上", 500, None), ("至少一千", 1000, None),
    ("1000起", 1000, None), ("十五", 10, 16), ("一百出头", 100, 200),
    # English, as customers type it in the gift form
    ("under 300", 0, 300), ("below 200 yuan", 0, 200), ("less than 500", 0, 500), ("no more than 800", 0, 800),
    ("up to 1k", 0, 1000), ("500 or less", 0, 500), ("max 600 rmb", 0, 600), ("over 500", 500, None),
    ("at least 1000 rmb", 1000, None), ("500+", 500, None), ("300 or more", 300, None), ("around 300", 240, 360),
    ("about 500 yuan", 400, 600), ("roughly ¥400", 320, 480), ("200 to 300", 200, 300),
    ("between 200 and 400", 200, 400), ("Under 2K", 0, 2000),
]


@pytest.mark.parametrize(("text", "low", "high"), FORMS)
def test_written_forms(text, low, high):
    assert parse_budget(text) == Budget(low, high)


def test_at_least_forty_forms_are_covered():
    assert len(FORMS) >= 40


@pytest.mark.parametrize("text", ["送领导", "", "想要不辣的", "过年送爸妈"])
def test_no_amount_means_no_budget(text):
    assert parse_budget(text) is None


@pytest.mark.parametrize(("text", "value"), [("三百五", 350), ("一千二", 1200), ("十五", 15), ("两万", 20000),
                                             ("1.5k", 1500), ("一百零五", 105)])
def test_chinese_numbers(text, value):
    assert chinese_number(text) == value


def test_budget_admits_prices_in_range():
    budget = Budget(200, 300)
    assert budget.admits(200) and budget.admits(300)
    assert not budget.admits(199.99) and not budget.admits(301)
    assert Budget(500, None).admits(10_000)
