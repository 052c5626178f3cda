"""Whether an answer covers what the question asks, beyond being about the same thing.

Retrieval scores measure "related": "狗能吃牛肉干吗" lies close to the jerky's entries, "普洱能降血脂吗"
close to the Pu'er ones, and the best of them scores like a right answer. What such a question asks
is in a word the entry never mentions (狗, 降血脂). So the check is on words: the question's content
words (jieba words and English words, without question and filler words) must each appear in the
entry's own text — its phrasings, its answers, the product's names and catalog facts — or be a word
customers use for the entry's topic in general (保存, 放多久 for storage and shelf life: learnt from the
phrasings of several entries of that topic). A word left over is an aspect the shop's data does not
answer, and the bot says it is not sure instead of answering something else.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

from core.language import CJK, to_simplified
from knowledge.topics import FROZEN, HAGGLE

USER_DICTIONARY = Path(__file__).resolve().parent.parent / "bot" / "jieba" / "userdict.txt"
TOPIC_WORD_MIN_ENTRIES = 3  # a word in the phrasings of this many entries of a topic is that topic's vocabulary

# Words that carry no aspect of their own: question words, pronouns, fillers, politeness, verbs of asking.
FILLER_WORDS = frozenset("""
    请问 问下 问一下 问问 想问 请教 咨询 打听 你好 您好 亲 亲亲 老板 客服 掌柜 店家 你们 您们 你家 你们家 咱们 我们 我 你 您
    他 她 它 他们 这个 那个 这种 那种 这款 那款 这些 那些 这样 那样 这边 那边 这里 那里 这儿 那儿 哪个 哪种 哪款 一下 一点 有点
    什么 啥 甚么 怎么 怎么样 怎样 咋 咋样 如何 为什么 为啥 干嘛 多少 多 几 哪 哪里 哪儿 是不是 是否 能不能 可不可以 可以 能 会
    会不会 不会 要不要 要 需要 需不需要 用不用 用 得 应该 有没有 有 没有 没 木有 还是 还 也 都 就 又 再 才 在 吗 呢 吧 啊 呀 哈 嘛 啦
    哦 噢 喔 哟 呐 么 的 地 了 着 过 是 不 很 太 挺 蛮 比较 特别 非常 好 好的 谢谢 多谢 感谢 麻烦 一般 大概 大约 左右 一些 有些
    东西 问题 情况 事 事情 知道 告诉 说 想 觉得 看看 看 买 买的 购买 下单 拍 拍下 收到 到手 给 把 被 让 跟 和 与 及 或 或者 等
    如果 的话 然后 那 那么 所以 因为 但是 不过 现在 一直 已经 刚 刚刚 就是 其实 真的 到底 究竟 呗 嗯 额 呃 哎 诶 耶 噻
    个 只 件 份 盒 包 瓶 袋 罐 斤 两 克 块 元 钱 次 种 款 样 点 些 条 套 张 颗 粒 片 支 根 双 下 上 里 中 后 前 时 时候 能够 可能 一定 一起 自己 家里
    这 那 行 行不 来 去 出来 起来 下来 过来 以后 之后 以前 之前 一 对 不对 不行 个别 不太 不太能 别的 其他 其它 还有
    喂 问 听说 据说 结果
""".split())
# A health effect is a claim only the shop's own words may make ("熟普能减肥不"), and so is what a pet may eat ("狗能吃牛肉干吗"):
# each counts as a thing asked about.
HEALTH = re.compile(r"减肥|瘦|降压|降脂|血脂|血压|血糖|糖尿|养胃|伤胃|护胃|失眠|醉茶|醉|上火|下火|排毒|美容|养颜|抗癌|"
                    r"治|药|功效|疗效|副作用|过敏|孕|哺乳|月经|便秘|拉肚子")
PETS = re.compile(r"(?<!熊)猫|(?<!热)狗|宠物")  # not 熊猫玩偶
# Abroad is a place an answer must name ("寄海外运费多少" is not the mainland's fee), however jieba tags it; a country
# abroad is said as ABROAD_ZH or ABROAD_EN (knowledge.shipping.as_abroad), stemmed "oversea" here.
ABROAD_ZH, ABROAD_EN = "海外", "overseas"
ABROAD = re.compile(rf"^(?:{ABROAD_ZH}|国外|境外|外国|{ABROAD_EN.removesuffix('s')}|abroad|international)$")
# A sign of spoilage ("腊肉胀袋了 还能吃吗"): whether it is still safe is the shop's judgement, not how long it keeps.
SPOILAGE = re.compile(r"胀|变软|发软|回软|受潮|回潮|鼓包|白点|白霜|白毛|绿毛|长毛|霉点|霉斑|变色|发黏|拉丝|馊")
# Whether a thing holds up ("丝巾洗了会掉色吗", "壶放暖气边会变形吗") is a promise of quality, the shop's to make; a care
# entry that never says so has not said it.
DURABILITY = re.compile(r"掉色|褪色|退色|脱色|缩水|起球|变形|掉漆|掉瓷|生锈|漏水|^fad|^shrink|^rust|^leak")
# Mending a thing, selling one piece of a set ("壶嘴磕了个口 能修吗", "能单独买个盖子吗"), issuing an invoice again
# ("抬头开错了 能重开不"), rushing a parcel ("加急 明天能到北京吗") or buying elsewhere for a customer (代购) is a service the shop offers or not: the entries on
# broken goods and on invoices, and a quote, do not say it; so is a warranty, an appointment to pick up or refusing a
# parcel at the door ("到店自提要提前预约不", "箱子破了个洞 我能直接拒收吗"), nor keeping the wrong item for the difference
# in price ("发错的那个我想留着 补个差价行不行").
REDOING = re.compile(r"^(?:修|维修|修补|修复|修理|返修|单独|单买|单卖|单配|配件|补|补开|重开|重新开|作废|加急|代购|质保|保修|预约|拒收|差价)$|"
                     r"^(?:repair|fix|mend|spare|expedit|rush|warrant|guarant)")
# Whether it gains value is a promise only the shop's own words may make ("生普放几年能升值多少"), like a health claim
# (not 保值: 保值期 is how some type 保质期).
INVESTMENT = re.compile(r"升值|增值|投资|理财|涨价|值钱|收藏价值|invest|appreciat", re.I)
# Freezing is a way to keep it that an entry must name ("月饼能放冷冻吗"): a storage entry that says "阴凉干燥处"
# does not say whether the freezer harms it, though 冷冻 is a storage word.
FREEZING = re.compile(FROZEN, re.I)
# An answer that keeps it out of the fridge ("不要放冰箱") has said no to the freezer too ("不需要放冰箱" only says it
# is not needed; "要不要放冰箱" asks).
FRIDGE_REFUSED = re.compile(r"(?<![要需用必])不(?:要|宜|能)放?(?:进|在)?(?:冰箱|冷藏)|别放冰箱|切勿(?:放入?)?(?:冰箱|冷藏)|"
                            r"\b(?:don'?t|do not|never) (?:refrigerate|put (?:it|them) in the fridge)|"
                            r"\bkeep (?:it|them) out of the fridge", re.I)
HEALTH_EN = re.compile(r"lose|diet|slim|diabet|hangover|drunk|sugar|blood|pressure|cholesterol|cancer|sleep|insomnia|allerg|pregnan|"
                       r"breastfeed|stomach|digest|detox|medic|heal|caffeine|dog|cat\b|cats\b|pet\b|pets\b|pupp|kitten", re.I)
# When, for whom or by whom, which no answer need say, as English's ENGLISH_CONTEXT: a shop-wide answer holds at New
# Year and for a company too ("公司过年要采购50份礼盒"),
# how long a tea keeps holds for one kept for a wedding ("留着等结婚那年再喝"), where the shop is for one who is
# in 昆明 ("我人在昆明"), and what is in a biscuit for a vegetarian ("我吃素"). Who may safely eat it
# (孕妇, 小孩, 老人; a son, a daughter or a grandmother, who may be a child or old) is asked: those stay things.
CONTEXT_WORDS = frozenset("""
    过年 过节 春节 中秋 端午 节日 节前 年前 年底 年后 夏天 冬天 春天 秋天 天热 平时 周末 今天 明天 最近 段时间 一段时间 阵子 一阵子
    公司 单位 家人 玩 旅游 出差 路过 顺路 顺路去 顺便 年会 预算 回南天 梅雨季 雨季
    爸 妈 爸爸 妈妈 爸妈 父母 父亲 母亲 老公 老婆 媳妇 丈夫 妻子 公公 婆婆
    岳父 岳母 亲戚 朋友 闺蜜 同学 同事 客户 领导 老师 长辈 家里人 老家 回老家 邻居 男朋友 女朋友 对象 结婚 婚礼
    人 家 新婚 吃素 素食 吃斋 姐妹 兄弟 姐姐 妹妹 哥哥 弟弟 嫂子 姐夫
    老丈人 丈人 丈母娘 亲家 女婿 儿媳 儿媳妇 舅舅 舅妈 姑姑 姑妈 姨妈 大姨 小姨 阿姨 叔叔 伯伯 婶婶 表姐 表妹 表哥 表弟
    堂哥 堂姐 室友 舍友 老乡 舅 姑 姨 大嫂 小姑子 小舅子
    礼 送礼 生日 过生日 大寿 做寿 祝寿 后天 大后天 下周 这周 本周 下星期 这星期 周一 周二 周三 周四 周五 周六 周日 周天
    星期一 星期二 星期三 星期四 星期五 星期六 星期天 星期日
""".split())
ENGLISH_CONTEXT = frozenset("""
    mom mum dad mother father parents wife husband aunt uncle friend friends family
    boss colleague colleagues client clients wedding girlfriend boyfriend relatives
    law sister brother cousin roommate neighbour neighbor teacher live lives living
    birthday bday today tomorrow weekend monday tuesday wednesday thursday friday saturday sunday
""".split())
# Who will eat or drink it: asked when it is whether they may (孩子能喝吗), but how long it keeps or how to keep it is
# the same for anyone ("想等儿子结婚的时候再喝 能放那么久不").
PEOPLE = frozenset("儿子 女儿 闺女 孙子 孙女 外孙 外孙女 侄子 侄女 外甥 外甥女 小孩 孩子 宝宝 老人 奶奶 爷爷 姥姥 姥爷 外婆 外公 "
                   "阿嬷".split())
MAY_EAT = re.compile(r"(?:能|可以|能不能|适合)(?:吃|喝)|\b(?:can|may|could) (?:i|he|she|they|we|my \w+) (?:eat|drink)\b",
                     re.I)  # "小孩能喝吗": who it is for is then what is asked
# How old or able the customer is ("我年纪大了不会用手机付钱 能不能东西到了再给钱", "我七十多了不太会弄 普洱茶饼要怎么泡"):
# why they ask, not what, unless whether they may eat or drink it is asked.
OF_ONESELF = re.compile(r"(?:我|本人)(?:是|都)?(?:[\s，,]*(?:(?:年纪|岁数|年龄)(?:大|高)了?|老年人|老人家|[五六七八九]十(?:多岁|多了|岁了?|了)|"
                        r"(?:眼睛|眼神|视力)不太?好|看不清楚?|不太?会(?:弄|用|操作|搞)(?:手机|电脑|微信|支付宝)?|腿脚不太?方便))+|"
                        r"\b(?:i'?m|i am) (?:old|elderly|\d+|not good with (?:phones?|tech\w*|computers?))\b", re.I)
# Where at home a thing is kept: what a storage or shelf-life answer covers (阴凉干燥处), unlike an appliance (消毒柜).
HOME_PLACES = frozenset("柜子 橱柜 抽屉 阳台 厨房 客厅 卧室 地下室 储物间 角落 架子 地方 屋里 房间 窗台".split())
HOME_PLACE_TOPICS = ("storage", "shelf_life")
ENGLISH_FILLERS = frozenset("""
    a an the is are was were be been am do does did done can could would should will shall may might must i me my
    you your yours we our us it its this that these those there here what which who whom whose how when where why
    if or and but so of to in on at for from with by about as any some much many more most very really just
    please hi hello hey thanks thank ok okay yes no not dont don't doesn't isn't can't cannot im i'm youre you're
    cant wont isnt doesnt didnt arent all make
    have has had get got go going want wanna like need tell know let please also too still ever one ones thing
    things something anything buy bought order ordered item items product products shop store sell guys
""".split())
_EN_WORD = re.compile(r"[a-z][a-z']+")
# A returning customer is not the new one an offer is made to ("我是老顾客了 有没有折扣啊" is no first order's coupon).
RETURNING = re.compile(r"老顾客|老客户|老客人|老主顾|回头客|熟客|老客|\b(?:returning|regular|loyal|repeat) (?:customer|buyer|client)",
                       re.I)
# Nor is a group's discount asked ("do you have a discount for students").
A_GROUP = re.compile(r"(?:学生|教师|老师|军人|老年人?)(?:优惠|折扣|价|打折|有优惠)|\b(?:student|teacher|senior|military|veteran)s? "
                     r"(?:discount|price|rate)|\bdiscounts? for (?:students|teachers|seniors|military|veterans)\b", re.I)
# A bulk order (a company's, dozens of boxes) is not the first order of a new customer an offer is made to either
# ("单位过节要买一百来盒 能便宜点不" is the corporate entry's, not the coupon's).
BULK = re.compile(r"公司|单位|企业|团购|批量|员工|大单|对公|(?:[二三四五六七八九]十|[一两几]?百|\d{2,})\s*(?:来|多|几)?\s*[盒份箱套件提]|"
                  r"\b(?:bulk|company|corporate|staff|employees)\b|\b\d{2,} (?:boxes|packs|sets|tins)\b", re.I)
FOR_NEW_ONLY = re.compile(r"新顾客|新客|新人|首单|第一单|\bnew customer|\bfirst order", re.I)
# A haggle ("老闆 能便宜一點嗎", "买两饼能便宜点不") asks for a better price, which a first order's offer is not, unless
# it is the first order ("第一次跟你買 算便宜一點啦").
HAGGLED = re.compile(HAGGLE, re.I)
FIRST_ORDER = re.compile(rf"(?<!不是)(?:{FOR_NEW_ONLY.pattern}|(?:第一次|头一次|首次)[买買来來下跟在光])|(?<!not my )\bfirst time\b", re.I)
# An answer that opens on companies ("企业团购满3000元95折") makes no offer to one customer's haggle ("老闆 能便宜一點嗎").
FOR_BULK_ONLY = re.compile(r"^(?:企业|团购|公司|单位)")
# Ways of asking said with a content word: 什么地方 is 哪里 ("实体店在什么地方"), 贵店/贵司 is 你们店 (polite, no price).
_ASKED_FORMS = ((re.compile(r"(?:什么|啥|哪个|哪一个|哪些)\s*地方"), " 哪里 "), (re.compile(r"贵(?=店|司|公司|宝地)"), "你们"),
                (re.compile(r"几日(?=到|能到|可以到|收到|送到|就到|会到)"), " 几天 "),  # Cantonese: "寄去香港幾日到？用咩快遞？"
                (re.compile(r"(?<=用)咩|咩(?=快递|嘢|野|时候)"), " 什么 "))
_PUNCTUATION = re.compile(r"[\s\W\d_]+", re.UNICODE)
# A number written in words (一百, 两只, 好几块, 三百多, 几块钱, 五月份; two, dozen) is no more asked than one in digits (50盒), which never counts.
_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十]+(?:月份?|号)|(?:好|这|那)?[零〇一二两三四五六七八九十百千万几]+(?:多|来|余)?(?:只|个|块钱?|毛钱?|元|盒|包|袋|瓶|罐|斤|饼|件|套|份|箱|样|条)?")
_ENGLISH_NUMBERS = frozenset("one two three four five six seven eight nine ten eleven twelve twenty thirty fifty "
                             "hundred dozen".split())


def without_people(missing: list[tuple[str, bool]], question: str) -> list[tuple[str, bool]]:
    """``missing`` less who keeps it or is sent it ("直接寄去我奶奶家"), unless whether they may eat it is asked."""
    return missing if MAY_EAT.search(question) else [(word, noun) for word, noun in missing if word not in PEOPLE]


# Where the customer is ("我在澳门 可以用信用卡付款吗"): a place right after these words, which no answer need name
# (and which is where a parcel goes: the shipping quote reads them too).
WHERE_ONE_IS = re.compile(r"(?:我|人|住|现在|目前|家)在$")

_tokenizer_lock = threading.Lock()


@cache
def _tagger():
    """A jieba part-of-speech tagger of its own with the shop's dictionary (the global one stays untouched)."""
    import jieba
    import jieba.posseg

    tokenizer = jieba.Tokenizer()
    with _tokenizer_lock:
        tokenizer.initialize()
        if USER_DICTIONARY.exists():
            tokenizer.load_userdict(str(USER_DICTIONARY))
    return jieba.posseg.POSTokenizer(tokenizer)


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=4096)  # one answer checks the same question against several entries
def content_words(text: str) -> tuple[tuple[str, bool], ...]:
    """The words of ``text`` that can carry what is asked, each with whether it names a thing.

    Chinese words come with jieba's part of speech: a noun (猫, 消毒柜, 发票) names what is asked
    about, while verbs, adjectives and numbers (搁, 坏, 两年) are mostly how customers say it.
    English words are stems, never counted as nouns (no tagger; their score decides), except health effects.
    """
    text = to_simplified(text).lower()
    words: list[tuple[str, bool]] = []
    for word in _EN_WORD.findall(text):
        stem = _stem(word)  # "wife's" is the wife
        if (word not in ENGLISH_FILLERS and not {word, stem} & ENGLISH_CONTEXT and word not in _ENGLISH_NUMBERS
                and len(word) > 1):
            words.append((stem, bool(HEALTH_EN.match(word) or ABROAD.match(stem))))
    for form, said in _ASKED_FORMS:
        text = form.sub(said, text)
    cjk_only = "".join(ch if CJK.match(ch) else " " for ch in text)
    for run in cjk_only.split():
        tokens = _tagger().lcut(run, HMM=False)
        for at, token in enumerate(tokens):
            word = _PUNCTUATION.sub("", token.word)
            where_they_are = token.flag == "ns" and bool(WHERE_ONE_IS.search("".join(t.word for t in tokens[:at])))
            if (word and word not in FILLER_WORDS and word not in CONTEXT_WORDS and not _NUMERAL.fullmatch(word)
                    and not where_they_are):
                thing = token.flag.startswith("n") or bool(
                    HEALTH.search(word) or PETS.search(word) or ABROAD.match(word))
                words.append((word, thing))
    return tuple(words)


def a_quality(word: str) -> bool:
    """Whether jieba tags ``word`` a quality (土 of 土蜂蜜, 野生 of 野生菌): it says which thing, unlike a doing (加 of
    加防腐剂) or an asking (哪几种 of 哪几种茶叶)."""
    return all(token.flag[0] in "abz" for token in _tagger().lcut(word, HMM=False))


def searchable(parts: Iterable[str]) -> str:
    """Text that words are looked up in: simplified, lower case, English words stemmed too."""
    text = to_simplified(" ".join(p for p in parts if p)).lower()
    return text + " " + " ".join(_stem(w) for w in _EN_WORD.findall(text))


def for_the_shop_to_say(word: str) -> bool:
    """Whether ``word``, left uncovered by an entry, asks what only the shop's own words may answer: whether it is
    still safe to eat, holds up, can be mended, bought by the piece or reissued, is good for one's health or a pet, gains
    value, or goes abroad."""
    return bool(SPOILAGE.search(word) or DURABILITY.search(word) or REDOING.search(word)
                or HEALTH.search(word) or PETS.search(word) or HEALTH_EN.match(word)
                or INVESTMENT.search(word) or ABROAD.match(word))


class Coverage:
    """The topic vocabulary of one KB snapshot, and the check of a question against one answer's text."""

    def __init__(self, phrasings_by_topic: dict[str, list[list[str]]]) -> None:
        """``phrasings_by_topic``: for each topic, each entry's phrasings."""
        self.topic_words: dict[str, frozenset[str]] = {}
        for topic, entries in phrasings_by_topic.items():
            seen: dict[str, int] = defaultdict(int)
            for phrasings in entries:
                for word in {w for p in phrasings for w, _noun in content_words(p)}:
                    seen[word] += 1
            self.topic_words[topic] = frozenset(w for w, n in seen.items() if n >= TOPIC_WORD_MIN_ENTRIES) | (
                HOME_PLACES if topic in HOME_PLACE_TOPICS else frozenset())

    def missing(self, question: str, text: str, topic: str | None = None) -> list[tuple[str, bool]]:
        """Content words of ``question`` (with their noun flag) that neither ``text`` nor the topic's words have; how
        old or able the customer says they are is not asked (``OF_ONESELF``).

        ``text`` is what ``searchable`` made of the answer's own texts.
        """
        topic_words = self.topic_words.get(topic or "", frozenset())
        if not MAY_EAT.search(question):
            question = OF_ONESELF.sub(" ", question)
        return [(w, noun) for w, noun in content_words(question)
                if w not in text and (w not in topic_words or ABROAD.match(w))]  # abroad must be the entry's own word

    def misses_a_thing(self, question: str, text: str, topic: str | None = None) -> bool:
        """Whether ``text`` leaves a noun of ``question`` uncovered: then it does not answer what was asked."""
        return any(noun for _word, noun in self.missing(question, text, topic))
