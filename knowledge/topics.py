"""Which aspect of a product a question asks about, from the words customers use for it.

The embedding ranks a product's entries mostly by the product's name, so "宣威火腿真空的那种能搁多久"
scored its vacuum entry above its shelf-life one. The aspect a customer asks is the one named last
("…真空的那种 / 能搁多久"): Chinese puts the question's focus at the end. An entry's aspects are
those its own phrasings ask about, so an owner's entries get theirs without a tag.
"""

from __future__ import annotations

import re
from collections import Counter

# Chinese characters, defined here and not taken from core.language: the Rasa venv, which imports this module through
# bot.questions, has no OpenCC.
CJK_CHARACTER = re.compile(r"[\u4e00-\u9fff]")

# When an order arrives is shipping, whatever product is under discussion: "几天能到" after the 大红袍 is not
# how long it keeps, although 几天 also asks that ("收到能放几天"); 到期 is when it expires, 多久才到最好喝 no arrival.
ARRIVAL = (r"(?:几天|多久|多长时间|几号|哪天|什么时候|啥时候|多快)(?:能|可以|才能|就能|才|就|会)?"
           r"(?:送到|寄到|收到|拿到|送达|到手|到货|到)(?=[吗呢啊呀了么嘛哈？?!！。，,\s]|$)"
           r"|能到吗|能到不|能到么|到得了|赶得上|赶不上|赶得及|来得及|来不及|\barriv\w*|\bget (?:here|to me)\b|"
           r"\b(?:will|would|does|can) (?:it|they) make it\b|\bin time for\b")
# How long the shop has been at it ("老板做茶多少年了", "how many years have you been in business") is no aspect of keeping.
_YEARS_AT_IT = (r"(?:老板|老闆|你们|你們|师傅|師傅)[^\s，,。的]{0,3}(?:做|干|幹|经营|經營|从事|從事|从业|從業)[^\s，,。？?的]{0,4}(?:多少|几|幾)年了|"
                r"\bhow (?:many years|long) ha(?:ve|s) (?:you|u|the shop|the owner|your (?:shop|family)) been (?:in business|doing|"
                r"selling|making|open|around)\b")
# Whether it fits a place ("我妈家那个柜子放不放得下") is its size, not where to keep it; the customer judges it.
FITS = (r"(?:(?:柜子|橱柜|柜|架子|书架|抽屉|箱子|行李箱|冰箱)里?[^\s，,。]{0,4}?)?(?:放|摆|擺|装|裝)(?:不放得|不擺得|不摆得|不装得|不裝得|得|不)下|"
        r"\bfits?\b")
_NO_ASPECT = re.compile(f"{ARRIVAL}|{_YEARS_AT_IT}|{FITS}", re.I)
# What it costs is the catalog's to say: "生普多少钱" is not how long it keeps, nor the shipping fee.
PRICE = (r"多少钱|(?<![很好太这那么许更省])多钱|价格|价钱|价位|几块钱|几钱|怎么卖|什么价|啥价|卖多少|贵不贵|"
         r"\bhow much (?:is|are|for|does|do)\b|\bprices?\b|\bcosts?\b")

# A better price asked ("老闆 能便宜一點嗎", "买两饼能便宜点不", "抹个零"), not which is cheaper ("哪个便宜点").
HAGGLE = (r"(?<!哪个)(?<!哪款)(?<!哪种)便宜一?[点點些](?!的)|能便宜[吗嘛么不]|算便宜|少算|能少点|抹零|抹个零|"
          r"(?<!which is )(?<!which one is )\bcheaper\b|\b(?:better|lower) price\b")
# "will the biscuits still be fine by then": how long it keeps (bot/questions.py: also when asked about a gift)
STILL_FINE = r"\bstill (?:be )?(?:fine|ok|okay|good|fresh|edible)\b"

# Frozen, a way of keeping ("腊肠吃不完可以冻起来吗", 冷冻, 速冻); 冻顶 is an oolong, and 冻干, 冻结, 果冻, 冻坏, 冻裂 are
# no freezer.
FROZEN = r"(?<!果)冻(?![顶干结坏伤裂])|\bfreez|\bfroze"

ASPECT_CUES = {
    "shelf_life": re.compile(
        r"保质期|保存期|过期|多久|多长时间|几天|几个月|几年(?![的陈])|(?<!树龄)(?<!树龄有)多少年(?!的)|放多|放几(?![勺克粒颗片个块包袋次泡])|搁多|存多|能放|能搁|能存|放到|放一年|放两年|"
        r"会坏|会不会坏|坏不|坏吗|坏了没|放坏|变质|吃完|喝完|吃掉|喝掉|新鲜|生产日期|好多年|好几年|很多年|多年|放久|"
        r"还能(?:吃|喝|泡|用)|接着吃|接着喝|隔夜|期内|有效期|半年了|[一两二三四五六七八九十几]+个?(?:年|月)了|日子|日期|很久|好久|久了|"
        r"(?:放|存|搁|留)个?[一两二三四五六七八九十几]+年|"
        rf"撑到|撑得|能撑|撑多久|撑几|{STILL_FINE}|\bby then\b|\blast (?:until|till|for)\b|"
        r"\bhow long\b|\bkeeps?\b|\bexpir|\bshelf life\b|\bgo(?:es)? (?:bad|off|stale)\b|\bstale\b|\bbest before\b|"
        r"\bfinish (?:it|them)\b", re.I),
    "storage": re.compile(
        rf"保存|储存|存放|怎么存|怎么放|咋放|咋存|放哪|冰箱|{FROZEN}|冷藏|罐|密封|受潮|防潮|潮了|生虫|长虫|晒|避光|通风|阴凉|"
        r"开封|拆封|拆开|吃剩|剩下|没吃完|没喝完|晾|挂|不脆|不酥|回软|变软|软了|放好|放对|黏|粘|结块|(?<!耽)搁(?!多|置)|柜子|橱柜|抽屉|"
        r"\bstor(?:e|age|ing)\b|\bfridge\b|\b(?:in|into|an?|glass|clay|airtight|sealed|ceramic|tin|storage) jars?\b|\bairtight\b|\bdamp\b|\bhumid|\brancid\b", re.I),
    # Already past its date ("过期一个月了 还能吃吗", "包装上写18个月 已经过了一个月了"): only an entry that asks so answers
    # it, not how long it keeps.
    "expired": re.compile(r"(?<![不没快会])过期了|过期(?:[一两二三四五六七八九十半几\d]+个?(?:天|周|月|年)|好久|很久|挺久)|过了保质期|"
                          r"超过了?保质期|保质期(?:已经)?过了|(?:日子|日期)早?就?过了|"
                          r"(?:写|标|印)(?:着|的)?[\d一两二三四五六七八九十]+个?(?:月|年|天)[\s，,。]{0,2}(?:已经|早就|都)?过了|"
                          r"\bpast (?:the|its) (?:date|best.before|expiry)|"
                          r"(?<!not )\bexpired\b|\bout of date\b", re.I),
    # When it was made, picked or roasted: a date the shop's keeping entries do not give ("咖啡豆是哪天烘的 新鲜不")
    "made": re.compile(r"(?:哪天|哪一天|几号|几月份?|哪个月|什么时候|啥时候|什么时间)的?(?:生产|出厂|产|做(?!活动|促销|优惠|团购)|烘|烤|焙|采|摘|炒|压|制|晒|腌|熏|灌)|"
                       r"(?:出厂|采摘|烘焙|烘烤|制作|压制|加工)(?:日期|时间)|哪一?年的|哪一?年(?:产|做|压|采|摘|出)|今年(?:新|的|产|采|摘)|新下来|(?:什么|啥)年份|年份是|"
                       r"\b(?:what|which) year\b|(?:烘|采|摘|压)的?(?:日期|时间)|多久前做|现做|现烤|新做|刚做|"
                       r"\b(?:freshly|fresh(?:ly)?) (?:made|baked|roasted)\b|\bmade fresh\b|"
                       r"\bwhen (?:was|were) (?:it|they|this|these|those|the \w+) (?:made|picked|roasted|harvested|produced|pressed)\b|"
                       r"\broast(?:ed|ing)? (?:date|on)\b|\bharvest(?:ed)? (?:date|when)\b|\bmanufactur\w* date\b", re.I),
    "vacuum_packing": re.compile(r"真空|\bvacuum", re.I),
    "price": re.compile(PRICE, re.I),
    # How to cook, soak or brew it, or whether it must be cooked: no keeping entry says ("松茸干泡发要泡多久" is not its
    # shelf life, "香肠能直接吃吗" no summary, "滇红怎样冲才好喝" no taste)
    "cooking": re.compile(r"泡发|泡多久|煮多久|炖多久|蒸多久|炒多久|怎么吃|咋吃|怎么做|咋做|做法|怎么炖|怎么煮|怎么蒸|"
                          r"(?:怎么|怎样|咋|如何)(?:冲泡?|泡)(?![抵值账])|"
                          r"直接吃|生吃|要煮|要蒸|要炖|煮熟|蒸熟|\bcook|\brecipe|\bsoak|\bready to eat\b", re.I),
    "care": re.compile(
        r"清洗|洗碗机|洗衣机|洗|保养|微波炉|机洗|干洗|手洗|消毒|熨|皱|开裂|烫|擦|养壶|"
        r"\bwash|\bclean|\bmicrowave|\bdishwasher|\biron(?!\s+goddess)|\bcare\b", re.I),
    "packing": re.compile(r"(?<!真空)包装|怎么包|包得|包好|碎|破|磕|摔|压扁|压坏|挤压|泡沫|防震|\bpack(?:ed|ing|aged)?\b|\bbreak|"
                          r"\bfragile|\bbubble|\bcrush", re.I),
}

# A way of cleaning or heating a thing, or of paying for it, is only for an entry that names the way (by any of its
# names) to allow: the silk scarf's "hand-wash only" does not say whether it may be dry-cleaned, nor the shop's
# list of payments (WeChat, Alipay, Visa, PayPal) whether Apple Pay is taken, the fee paid on arrival (顺丰到付) or two
# offers used together (新人券能跟满减一起用吗).
NAMED_WAYS = tuple(re.compile(way, re.I) for way in (
    r"干洗|\bdry[- ]?clean", r"(?<!碗)机洗|洗衣机|\bwashing machine", r"洗碗机|\bdishwasher", r"微波炉|\bmicrowave",
    r"消毒柜|\bsteriliz|\bsterilis", r"烘干机|\btumble", r"漂白|\bbleach", r"烤箱|\boven",
    r"apple\s*pay|苹果支付", r"google\s*pay|谷歌支付", r"samsung\s*pay", r"paypal|贝宝", r"数字人民币|\be-?cny\b|digital yuan",
    r"云闪付", r"比特币|加密货币|虚拟货币|\bbitcoin|\bcrypto", r"\bvenmo", r"白条", r"花呗|\bhuabei",
    r"(?<!货)到付|\bfreight collect", r"叠加|一起用|同时用|\bstack(?:ed|ing)?\b",
    r"信用卡|\bcredit\b|\bvisa\b|\bmaster\s*card",
    r"美元|美金|港币|港元|外币|\bus ?dollars?|\busd\b|\bhkd\b|foreign currenc"))


def unsaid_ways(question: str, text: str) -> list[str]:
    """The ways of care or payment ``question`` names that ``text`` names by none of their names."""
    return [asked.group(0) for way in NAMED_WAYS if (asked := way.search(question)) and not way.search(text)]


# Every cue at every place, overlaps too: "要蒸多久" is 蒸多久 (cooking) though 要蒸 matches first.
_OVERLAPPING_CUES = {aspect: re.compile(f"(?=({cue.pattern}))", cue.flags) for aspect, cue in ASPECT_CUES.items()}


def asked_aspect(question: str) -> str | None:
    """The aspect whose cue ends last in ``question``, the longer cue on a tie ("泡多久" over "多久"), if any
    (when it arrives, how long the shop has been at it, or whether it fits somewhere, is no aspect of keeping)."""
    question = _NO_ASPECT.sub(" ", question)
    last: tuple[int, int, str] | None = None
    for aspect, cue in _OVERLAPPING_CUES.items():
        for match in cue.finditer(question):
            end = match.start() + len(match.group(1))
            if last is None or (end, -match.start()) > last[:2]:
                last = (end, -match.start(), aspect)
    return last[2] if last else None


def aspects(phrasings: list[str]) -> frozenset[str]:
    """The aspects an entry's phrasings ask about."""
    return frozenset(aspect for aspect, cue in ASPECT_CUES.items() if any(cue.search(p) for p in phrasings))


# Trouble with what arrived, told as having happened ("收到的茶饼碎成渣了 😭", "你们给我发成香辣的了", "红枣里面有小虫",
# "核桃敲开里面是黑的"; not 磨碎 nor 冬虫夏草): the
# after-sales entry on that trouble answers, however much else the message tells (how the box looked, how they feel),
# since what is asked is what now. An entry is on the trouble most of its phrasings report. 坏 is either.
# Sent the wrong thing, or too few: 发成都 is sending to Chengdu.
WRONG_ITEM = (r"发错|寄错|送错|错发|(?:发|寄)成(?![都功])|少发|漏发|少寄|少了一|只(?:来|到|收到|发)了[一二两三四五\d]|不是我(?:买|拍|要|订|点)的|(?:寄|发|送)(?:过)?来的(?:却|竟然)?是|"
              r"(?:要|买|拍|订|点)的[^。？?]{1,12}(?:到手|收到|到了)(?:的)?(?:一看|打开|拆开)?(?:却|竟然|咋|怎么)?(?:是|成)|"
              r"\bwrong (?:item|thing|one|flavou?r|size|colou?r|product|tea)|\bsent (?:me )?the wrong|\b(?:not|isn'?t) what i ordered|"
              r"\bonly (?:\d+|one|two|three|half) (?:came|arrived|turned up|showed up|was delivered)|\bonly (?:got|received) (?:\d+|one|two|half) (?:box|bag|pack|jar|tin|cake|bottle|set|item|parcel|of)(?!\w* a day)|\b(?:one|an item) (?:is|was) missing|"
              r"\bordered\b[^.?!]{1,40}\bbut (?:only )?(?:got|received|(?:you |u |they )?sent)\b (?!nothing|it\b|them\b|me nothing|to\b)|"
              r"\bgot (?:[\w'-]+ ){1,4}instead\b")
TROUBLES = {
    "damaged": re.compile(r"(?<![细磨捣切剁])(?<![要用先]打)碎(?!银)|破|裂|磕|坏|压扁|\bbroken?\b|\bcrack|\bchip(?:ped)?\b|\bsmash|"
                          r"\bshatter|\bcrush|\bdamag|\bdent", re.I),
    "wrong_item": re.compile(WRONG_ITEM, re.I),
    "spoiled": re.compile(r"霉|(?<!冬)虫(?!草)|坏|(?:发|变)黑|(?:里面|里头|仁)(?:是|都是|全是|都)?黑(?:的|了)|长毛|胀袋|胀气|鼓起来|漏气|(?:有|一根|几根|发现|吃出)(?:根|一根)?头发|异物(?!感)|沙子|沙粒|异味|怪味|臭|变质|哈喇|油哈|馊|(?<!新)不新鲜|味道不对|\bmou?ld|\bbugs?\b|\binsects?\b|"
                          r"\bworms?\b|\brotten\b|\brancid\b|\bsmells? (?:bad|off|weird|funny|strange|sour)|(?<!what if it )(?<!if it )\bwent (?:bad|off|sour|mou?ldy)\b|\b(?:is|are|it'?s|they'?re|went|turned|kinda|bit) (?:a bit |kinda )?fizzy\b|\b(?:a|found)\s+hairs? in\b|\btastes? (?:off|weird|bad|funny|strange)|"
                          r"\bsand\b|\bgrit", re.I),
}
# Not a report of trouble that happened: one feared or asked about in general ("瓷器会不会碎", "怎么撬开不碎", "what if it
# breaks", "香肠寄过来不会臭了吧"), or one whose judgement is asked: whether it is the trouble ("是发霉了吗": 金花 is no
# mould), whether it is normal, still good or still covered ("还能吃吗", "还能赔吗", "第四天才拆 有条裂纹 还管吗",
# "黄黄的小颗粒是啥 发霉了？"), which only the shop may say.
_IS_IT = r"是(?:不是|否)?[^，,。\s]{0,4}"  # "是不是放坏了", "是发霉了吗": whether it is the trouble
# "会发霉吗", "会坏吗": whether it will happen, asked.
_WILL_IT_HAPPEN = r"会[^\s，,。]{0,4}[吗嘛么]"
# What to do about it ("拍错口味了怎么办", "漏气了 咋整"), asked after a trouble told: a report, and a remedy the shop's entries
# say (never a summary); 怎么整 and 咋整 only at a clause's end ("怎么整箱寄不碎" asks how to send it).
_WHAT_NOW = r"办|处理|整(?=[\s，,。!！?？呀啊呢吧]|$)"
REMEDY_ASKED = re.compile(rf"(?:怎么|咋)(?:{_WHAT_NOW})|\bwhat (?:do|should|can) i do\b|\bwhat now\b", re.I)
# Harm not wished for ("别到了就碎", "千万别压扁"): 别 that starts a clause, not 特别碎, 个别碎了, 别提了.
_NOT_WISHED = r"(?:(?<![^\s，,。!！?？])|千万|请|可)别(?!提)[^，,。\s]{0,4}?(?:碎|坏|破|裂|压扁)"
# A message sent by mistake ("抱歉刚才发错了 我想问的是…"), not goods sent wrong ("刚才拆开发错了", "刚刚收到发错货了").
_SENT_BY_MISTAKE = r"(?:抱歉|不好意思|sorry|我|消息|信息)(?:刚才|刚刚)?发错了?(?!货)"
NO_REPORT = re.compile(rf"会不会|会不|惊会|不会[^，,。\s]{{0,4}}吧|会[碎破裂坏]|{_WILL_IT_HAPPEN}|怕|担心|万一|{_NOT_WISHED}|{_SENT_BY_MISTAKE}|容易|防止|避免|如何|(?:怎么|咋)(?!{_WHAT_NOW}|弄|回事)|(?:才能?|就|好)不(?:长|生|发|坏|碎|压|裂)|怎样|[才先]不会|"
                       rf"{_IS_IT}(?:霉|虫|变质|坏|碎|裂)|是啥|是什么|(?:霉|虫|坏|碎|裂)了?[吗嘛么吧]?[？?]|还能|还可以|还管|还赔|还包|还算|正常|"
                       r"\bif\b|\bwill\b|\bwould\b|\bcould\b|worr|afraid|\bin case\b|\bprevent|\bavoid|\beasy\b|\bhow to\b|"
                       r"\bstill\b|\bnormal\b|\bis (?:it|this|that) (?:mou?ld|rotten|bad)", re.I)


# Whether it will happen ("鲜花饼快递过来会不会压扁了", "will it break in the post"): a worry the packing answers, not the
# after-sales entry on what is done once it has ("if it shows up broken" asks that).
# Which of them someone would like ("which would my dad like more, the shuixian or the shoumei"): a judgement.
PREFERRED = r"\bwhich\b[^?]{0,30}\b(?:like|prefer|enjoy|love)\b"
WILL_IT = re.compile(rf"会不会|会不|会[碎破裂坏压摔]|{_WILL_IT_HAPPEN}|容易|\b(?:will|would) (?:it|they|the \w+) (?:get )?(?:break|crack|crush|smash|be )", re.I)

# A spoilt smell or taste told ("牛肉干吃着一股油哈味"): then "是不是放坏了" asks what now, not the shop's judgement of a
# sign that may be normal ("黄黄的小点点是发霉了吗": 金花).
SENSED = re.compile(r"(?:一股|有股|闻着|吃着|喝着|尝着|吃起来|喝起来|闻起来)[^，,。\s]{0,6}味|哈喇|油哈|\b(?:smells?|tastes?) (?:bad|off|rancid)")
WHETHER_SPOILT = re.compile(rf"{_IS_IT}(?:变质|坏)了?|(?:坏|变质)了?[吗嘛么吧]?[？?]|\b(?:has|is) it (?:gone )?(?:bad|off)\b",
                            re.I)


def reported_trouble(question: str) -> str | None:
    """The one kind of trouble ``question`` tells of as having happened, if any."""
    if SENSED.search(question):
        question = WHETHER_SPOILT.sub(" 变质 ", question)  # 坏 is also broken
    if NO_REPORT.search(question):
        return None
    kinds = [kind for kind, words in TROUBLES.items() if words.search(question)]
    return kinds[0] if len(kinds) == 1 else None


# What is asked, said again after a slip ("抱歉刚才发错了 我想问的是…", "sorry typo, I meant: …").
_MEANT = re.compile(r"(?:我|其实|其實)?(?:是|本来|本來)?(?:想|要)[问問]的是|我的[问問]题是|"
                    r"\b(?:i meant(?: to ask)?|what i (?:meant|wanted to ask)(?: (?:was|is))?|my question (?:is|was))\b", re.I)
# A sentence and its end: Chinese stops, English ones before a space, a line's end.
# not after an initial or a title ("the U.S. by Christmas?", "Mrs. Chen", "St. Petersburg").
_SENTENCE = re.compile(r"[^。！!？?\n]+?(?:[。！!？?\n]+|(?<!\b[A-Za-z])(?<!\b(?:Mr|Ms|Dr|St|vs|mr|ms|dr|st))(?<!\bMrs|\bmrs|\betc)\.(?=\s)|$)"
                       r"|[。！!？?\n]+")
# A question says six Chinese characters (or four English words) of its own; also the part that asks after a story:
# "可以吗？" after "我想退货。" asks about the story.
MIN_CJK, MIN_WORDS = 6, 4


def asked_part(message: str) -> tuple[str, str]:
    """The part of ``message`` that asks, and the story told before it.

    A long message often tells a story first ("我表姐下个月结婚，我买了一套玲珑碗当礼物……东西还没拆封，能退吗？"):
    the people, occasions and places in it are nobody's question. The story is every sentence before the first one
    ending in a question mark, except one telling a trouble ("收到的普洱有股霉味。怎么办？"), which is asked about.
    What is asked again after a slip ("抱歉刚才发错了 我想问的是…") is all that is asked.
    Without a question mark, without a story, when what to do about the story is asked ("……只有一张小卡片。你们怎么
    处理？") or when the rest says too little of its own ("我想退货。可以吗？"), the whole message is asked.
    """
    if (meant := _MEANT.search(message)) and (asked := message[meant.end():].lstrip(" :：,，")):
        return asked, message[:meant.start()].strip()
    sentences = [match.group(0) for match in _SENTENCE.finditer(message)]
    first = next((at for at, sentence in enumerate(sentences) if re.search(r"[?？]\s*$", sentence)), 0)
    told = [bool(reported_trouble(sentence)) for sentence in sentences[:first]]
    story = [sentence for sentence, trouble in zip(sentences, told) if not trouble]
    rest = "".join(sentences[first:])
    if (not story or REMEDY_ASKED.search(rest)
            or len(CJK_CHARACTER.findall(rest)) < MIN_CJK and len(re.findall(r"[A-Za-z]+", rest)) < MIN_WORDS):
        return message, ""
    asked = [sentence for sentence, trouble in zip(sentences, told) if trouble] + sentences[first:]
    return "".join(asked).strip(), "".join(story).strip()


def entry_trouble(phrasings: list[str]) -> str | None:
    """The trouble most of an entry's phrasings report."""
    told = Counter(kind for phrasing in phrasings for kind, words in TROUBLES.items() if words.search(phrasing))
    kind, times = next(iter(told.most_common(1)), (None, 0))
    return kind if 2 * times >= len(phrasings) else None
