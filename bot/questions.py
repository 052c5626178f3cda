"""Whether a message is a question with content, or a gift request: pure Python, shared by the Rasa component
and its tests."""

from __future__ import annotations

import re

from knowledge.topics import (ARRIVAL, CJK_CHARACTER, HAGGLE, MIN_CJK, MIN_WORDS, PREFERRED, STILL_FINE, asked_part,
                              reported_trouble)

# Whether someone asks who answers, or for a person, needs fewer words ("are you human"): a question the NLU
# read that way but names no one ("is it handmade") is sent to the knowledge base.
MIN_WORDS_ASKED = 3
# Read as a gift request, a greeting, yes or no, a short question is still a question ("有礼盒装吗", "请问有乌鱼子吗",
# "容量多大的", "是野生的不"): the limit above keeps short replies ("不用了") from being read as questions; yes and no
# are told from them by their words alone ("没有没有", "不用不用", "不是的呢": REPLY_ONLY).
MIN_CJK_SHORT = 4
MIN_CJK_ANY = 2  # read as a greeting with no greeting word in it, a question of two characters is one ("有核吗")
# How many days or years it keeps ("能放几天", Cantonese "擺幾耐"), asked also of a gift ("去医院看病人带鲜花饼 能放几天")
_KEPT = r"(?:放|存|搁|摆)"
_KEPT_HOW_LONG = rf"{_KEPT}个?几(?:[天个年]|耐)"
# How big, heavy or tall it is ("多高的", "礼盒多重"); not "多大都行", a size left open.
_SIZE_ASKED = r"多[高大重长宽](?![都也])"
REPLY_ONLY = re.compile(r"[\s，,。.!！~好的是对對嗯哦噢喔行可以没沒有不用了要错錯谢謝啦吧呀啊嘛哈呢]+")
# How many a box, a set or each flavour holds ("榨菜礼盒里头几包", "一套配几个杯子", "每种口味几个"): asked of the goods,
# also in a gift request.
_COUNT_INSIDE = (r"(?:里面|里头|裡面|裡頭|[盒箱袋套]里|[盒箱袋套]裡|一盒|一箱|一袋|一套|每盒|每袋|每套|每种|每樣|每样|每款)[^\s，,。]{0,4}"
                 r"几[包袋个個块塊片颗顆条條根瓶罐盒斤两兩枚只隻粒份]")
# Interrogatives, not every word that can ask: 么 in 这么/那么, 几 in 过几天, 什么 in 没什么 say nothing. A clause
# "能…不" asks before what follows it ("能寄香港不 我在九龙"); "是A还是B" asks which.
CHINESE_QUESTION = re.compile(
    r"吗|嗎|呢|[不没][^\u4e00-\u9fffA-Za-z0-9]*$|(?<=[能会行有是])[^\s，,。]{0,6}[不没](?=[\s，,])|(?<=可以)(?![先再暂还就])[^\s，,。]{1,6}[不没](?=[\s，,])|？|\?|能不能|可不可以|有没有|怎么|咋|"
    r"(?<!没)什么|(?<!没)啥|多久|多少|哪里|哪儿|哪个|在哪(?![都也])|哪些|哪几|哪款|哪种|几种|几款|哪[天年](?![再有])|几耐|"
    r"^几[个個只件片颗包袋块杯套]|能[\u4e00-\u9fff]{0,3}几[个個只件片颗包袋块杯字]|几天(?:能|可以|就|才|会)?(?:到|收到|送到|发)|"
    rf"{_SIZE_ASKED}|"
    r"是[^\s，,。！!？?]{1,8}还是|"
    r"[\u4e00-\u9fff]{1,6}(?<![就我也都])(?:还是|還是)(?!算|不|要|想|等|先|再|觉得|覺得|老|挺|很|有点|有點|喜欢|喜歡|选|選|买|買|找|来|來|去|寄|改|用|拿|换|換|自己|跟|和|在)"
    r"[\u4e00-\u9fff]{1,6}(?<!吧)(?=[\s，,。！!？?]|$)|"
    r"(?:肯定|应该|應該|不会|不會)有[\u4e00-\u9fff]{1,8}吧(?=[\s，,。！!？?]|$)|"
    r"的(?:还是|還是)[^\s，,。！!？?]{1,8}|(?:就好|就行|就可以)(?:还是|還是)|真的假的|是真是假|"
    rf"{_KEPT_HOW_LONG}|"
    r"要[\u4e00-\u9fff]{0,2}好久|好久才|(?:没问题|沒問題|没事|沒事)吧|"
    r"([\u4e00-\u9fff])[不没]\1(?![^\s，,。]{0,3}(?:再想|再看|再说|再等|再决定|都行|无所谓|随便))|几(?:片|克|颗|粒|泡|遍|度)|[吃喝泡冲]几[个颗杯次道遍]|有[\u4e00-\u9fff]{1,6}没有?[啊呀呢吗嘛]?$|"
    r"(?<![过過等隔我给給])几分钟(?![后後](?:再来|再回|回来|回|来|來))|"
    r"[^\s，,。！!？?]{1,8}(?:还是|還是)[^\s，,。！!？?]{1,8}(?:好|合适|合適|划算|劃算)(?=[\s，,。！!？?]|$)|"
    rf"{_COUNT_INSIDE}|有几[种種款个個样樣]|[一总總]共有?[几幾](?![十百千万])|"
    r"^(?:你们|你們|你家|贵店|貴店)[^\s，,。]{1,6}[不没沒](?=[\s，,])")
# 好不好, 泡几克, 炖几分钟, 煮几分钟后才能吃; not "买不买我再想想", "我过几分钟再来", "给我几分钟", "十几分钟后回来";
# 可以用洗洁精刷不 (可以…不 as 能…不, not 可以先不), 要紧不🙀 (a sign after 不), 生的还是熟的好 (which of two), 里头几包 and 有几个颜色 (how many there are),
# 你们招代理不 (the shop asked), 野生的还是种的 (which of two), 腊肉要蒸好久 (好久: how long), 放七八年没问题吧 (sure, isn't it?).
# A question word or a question's inverted start, also after a clause ("…3 months, will the biscuits keep", "…on blood
# thinners, is pu'er tea ok for her"), and "…a chip on the lid, what now".
ENGLISH_QUESTION = re.compile(
    r"\?|^(can|could|do|does|is|are|will|would|should|how|what|where|when|which|why)\b|"
    r"^if\b[^?]{0,40}\b(?:will|can|could|would|does|is)\s+(?:i|u|you|it|they|the|this|we)\b|"
    r"(?:^|^(?:hi|hey|hello)\W+|[,.!]\s*)(?:u |you )?got any\b|^(?:ok|okay|safe|fine) to (?!(?:me|us|say)\b)\w+|\bor should (?:i|it|we|they)\b|"
    r"\bwhat'?s\b|\bwhich (?:is|are)\b|\bwhich (?:one|of (?:them|the two)) (?:is|are|would|should|do|does)\b|\bh(?:o)?w (?:long|much|many|big|tall|heavy|wide|old|often|far|do|does|is|are|can|should)\b|[,.;!?]\s*how to\b|"
    r"(?:[,.;!?]\s*|\b(?:and|so|but)\s+)(?:can|could|will|would|should|do|does|is|are)\s+"
    r"(?:i|u|you|it|they|the|this|that|these|those|we)\b|"
    r"(?:[,.;!?]\s*|\b(?:and|but)\s+)(?:can|could|will|would|should|is|are)\s+(?:he|she|my|your|our)\b|"
    r"[,.;!?]\s*(?:what|how|where|when|which|why)\s+\w+\s+(?:i|u|you|we)\b|"
    r"\bor (?:not|no)\b|\bwill (?:it|they) (?:make it|arrive|get there)\b|\bwhat (?:now|next)\W*$|[,.;!?]\s*(?:is|are)\s+[^.?!,]{1,30}\b(?:ok|okay|safe|fine)\b|\bmeh\b|\bwhat \w+ (?:ah|ar|leh|lah)\W*$|\b(?:is|are|was|were)\b[^.?!]{1,40}\b\w+ or \w+\W*(?:ah|leh|lah|meh|ar|hor)?\W*$", re.I)
# A size, a price, a time, where it is from, how to use it or a taste asked in two or three characters ("多高的",
# "多少钱", "几天", "哪产的", "咋泡", "酸不酸"): DIET read "多高的" after the vase as yes, "酸不酸" as no. Not "多少都行",
# a budget left open.
BRIEFLY_ASKED = re.compile(rf"{_SIZE_ASKED}|多久(?![都也])|多少(?:钱|克|斤|天|毫升|ml)|(?<![很好太这那么许更省])多钱|几[天克斤]|哪(?:里|儿)?产|"
                           r"(?:咋|怎么)[泡吃喝用洗煮蒸炖存放寄]|(?P<taste>[辣甜酸咸苦涩脆硬软贵腻香])不(?P=taste)|"
                           r"\bhow (?:much|many|big|long|heavy|tall|old)\b", re.I)
# A word or two asked in English ("microwave ok?", "any honey?"), unless it is only a reply ("ok?", "really?").
REPLY_ONLY_EN = re.compile(r"(?:[\s?!.,~]|\b(?:ok|okay|yes|yeah|yep|no|nope|sure|thanks?|thank you|really|right|fine|cool|"
                           r"great|good|alright|got it|i see|oh|ah)\b)+", re.I)


# A greeting before a question ("亲 鲜花饼能撑到下个月吗") or an address after it ("…能用洗洁精洗吗老板"); who answers
# ("你是真人吗") and a person asked for ("找店员", "你们经理在吗", "talk to customer service"); a look at the goods
# ("视频看看", "能不能视讯一下", "can we facetime?"). A person is named, not any 人: "人参", "老人能喝吗" ask of the goods.
GREETING = re.compile(r"^(?:\s|[，,。!！~?？]|你好|您好|亲亲|亲|老板娘|老板|老闆娘|老闆|店家|掌柜|请问|有人在吗|有人吗|客服在吗|在线吗|在吗|在不在|"
                      r"哈喽|嗨|hello|hi|hey|how are you(?: doing)?|is anyone there(?: to help)?)+", re.I)
# Made or grown by hand ("人工采摘", "人工种的", "人工色素"), not a person: what may follow 人工 in a question on goods.
_BY_HAND = r"采|剥|养|養|种|種|栽|培|育|色素|添加|合成|智能|制作|製作|挑选|分拣|费|晒|炒|包装"
ADDRESS = re.compile(r"[\s，,。!！~]*(?:老板娘|老板|老闆|店家|掌柜|亲亲|亲)[\s，,。!！~?？]*$")
_PEOPLE = (rf"人工(?!{_BY_HAND})|真的?人|活人|(?:找|有|来|叫|转|换)个?人(?!参|工(?:{_BY_HAND}))|没人|还是人(?!参|工(?:{_BY_HAND}))|"
           r"(?<![老病客女男夫家亲])人(?:呢|在吗|在不在|回复|回我|理我|跟我)|"
           r"店里的人|店裡的人|(?:懂|会|會|专业|專業)[^\s，,。？?]{0,4}的人|(?:管事|负责|負責|做主|说了算|說了算)的人|客服|店员|店員|店长|店長|店主|老板|老闆|掌柜|店家|"
           r"经理|經理|主管|负责人|負責人|工作人员|工作人員")
_PEOPLE_EN = (r"human|person|some(?:one|body)(?! with\b| who (?:has|is|can'?t|cannot)\b)|(?:talk|speak|chat) (?:to|with) any(?:one|body)|any(?:one|body) there|"
              r"any(?:one|body) (?:i|we) can (?:talk|speak|chat)|"
              r"(?:talk|speak|chat) (?:to|with) (?:the |your )?(?:boss|seller|shopkeeper|merchant|shop|store|you directly)|"
              r"agent|staff|owner|manager|representative|"
              r"customer (?:service|support)|support team")
ABOUT_THE_BOT = re.compile(rf"{_PEOPLE}|是人类?[吗嘛么]|机器|機器|自动|自動|智能|程序|谁|誰|你.{{0,4}}名字|叫什么|你.{{0,3}}真的?(?:[吗嘛么]|$)|电脑|"
                           rf"(?<![a-z])(?:ai|bot|robot|chatgpt|gpt)(?![a-z])|\b(?:{_PEOPLE_EN}|automated|automatic|who|"
                           rf"computer|machine|real(?! (?:\w+ )?or\b))\b", re.I)
A_PERSON = re.compile(rf"{_PEOPLE}|懂行|投诉|投訴|找谁|找誰|联系谁|聯繫誰|谁负责|誰負責|打个?电话|打個?電話|回电|回電|加个?微信|加個?微信|机器人|機器人|"
                      rf"\b(?:{_PEOPLE_EN}|people|complain\w*|escalat\w*|contact me)\b", re.I)
# A photo only staff can take ("发几张实拍图", "拍个照片给我看", "能给我看看照片吗", "有没有实物照片"), not one asked about
# ("和照片一样吗", "你们拍的是实物图吗", "发货和实物图一样吗"), nor 拍 that orders ("拍一下两盒", "拍了两盒").
_SEND_PHOTO = r"(?:[发發](?![货貨出过過])|拍(?![了下]))(?:(?!的)[^\s，,。？?]){0,4}"
_GOODS_PHOTO = "实物图|實物圖|实拍图|實拍圖|实物照|實物照"
_PHOTO = (rf"{_SEND_PHOTO}(?:照片|图片|圖片|{_GOODS_PHOTO}|视频|視頻)|"
          r"看[^\s，,。？?]{0,4}(?:照片|图片|圖片)|有(?:没有)?[^\s，,。？?]{0,4}(?:照片|图片|圖片)|"
          r"拍(?:个|個|张|張|一下|几张|幾張)?照?[^\s，,。？?]{0,2}(?:看|给我|給我)|拍一下(?![\d两几一二三四五六七八九十])")
_PHOTO_EN = (r"(?:send|take|show|see|get|post|snap)\b[^.?!]{0,15}\b(?:photos?|pictures?|pics?)|"
             r"(?:have|any|are there)\s+(?:\w+\s+){0,2}(?:photos?|pictures?|pics?)\b")
SHOWING = re.compile(rf"视频|視頻|视讯|視訊|摄像头|攝像頭|镜头|鏡頭|实拍|實拍|直播|实物图|實物圖|{_PHOTO}|"
                     r"(?:实物|實物|现场|現場)[^，,。？?]{0,3}看|"
                     r"看[^，,。？?]{0,4}(?:实物|實物|现场|現場)|\b(?:video|live|show me|see it|camera|facetime|"
                     rf"{_PHOTO_EN}|(?:video|voice|phone) call|call me)\b", re.I)


def is_question(text: str, min_cjk: int = MIN_CJK, min_words: int = MIN_WORDS) -> bool:
    """A question mark or word, and six Chinese characters (or four English words) of its own."""
    cjk = CJK_CHARACTER.findall(text)
    if cjk:
        return len(cjk) >= min_cjk and bool(CHINESE_QUESTION.search(text))
    return len(text.split()) >= min_words and bool(ENGLISH_QUESTION.search(text.strip()))


# What a gift request says (besides a recipient, occasion or budget the NLU finds): "送长辈", "礼盒", "帮我挑",
# and in the gift form's follow-ups "那有什么适合他的", "something for her", "any other options?"; not 送 that sends ("丝巾能送去干洗吗", "送到家").
GIVEN_WORDS = r"送(?![去到货达洗])|礼|gift|present"
GIFT_WORDS = re.compile(rf"{GIVEN_WORDS}|推荐|挑|选|适合|recommend|suggest|options?|choices?|alternatives?|\bfor (?:him|her|my)\b", re.I)
# DIET also tags words of other questions as gift entities ("明年那罐还在期内不": budget 期内, recipient 两罐; "sheng or
# shou": budget "or"). A recipient or an occasion the gift form can use is one it knows (knowledge.files.RECIPIENTS
# and OCCASIONS, which the Rasa server cannot import; a test keeps them the same); a budget has a figure or a
# word for money.
GIFT_VALUES = {"recipient": frozenset({"elder", "parent", "boss", "colleague", "friend", "child", "partner", "client",
                                       "teacher", "patient"}),
               "occasion": frozenset({"spring_festival", "mid_autumn", "dragon_boat", "birthday", "business_visit",
                                      "hospital_visit", "wedding", "housewarming", "teachers_day", "everyday"})}
BUDGET_VALUE = re.compile(r"\d|[一二两三四五六七八九十几]\s*[百千万]|[百千万]块|元|块|钱|预算|不限|随便|yuan|rmb|\$|¥|bucks|"
                          r"budget", re.I)  # not 一点, 几年, 一罐
# A figure of time, weight or size is no budget ("what year is the peel from, really 10 yrs?": DIET tags "10").
NOT_MONEY = re.compile(r"\s*(?:\d+\s*)?(?:年|天|个?月|克|斤|毫升|度|°|(?:g|kg|ml|cm|yrs?|years?|days?|months?|weeks?|grams?|degrees?)(?![a-z]))",
                       re.I)
# A choice for oneself ("can u recommend a good teapot for a beginner", "新手买哪个壶好", "我肚子一喝茶就难受 有没有温和点的推荐"),
# which the gift form, asking whom it is for, cannot help with; unless a gift is given too ("自己喝也送人").
FOR_ONESELF = re.compile(r"新手|入门|入門|小白|自己(?:喝|用|吃|泡)|^我的?(?:肚子|胃|肠胃|腸胃|身体|身體|喉咙|嗓子)|"
                         r"\b(?:for myself|beginners?|newbies?)\b", re.I)
GIVEN = re.compile(rf"{GIVEN_WORDS}|\bfor (?:him|her|my (?!self\b|own\b))|"
                   r"给(?!我|自己)[^\s，,。]{0,6}?(?:朋友|爸|妈|父|母|老人|长辈|领导|老板|同事|客户|孩子|老公|老婆|男友|女友|他|她)", re.I)
# How something is packed, not a gift wanted: "有礼盒装吗", "can you gift wrap it".
GIFT_PACKING = re.compile(r"礼盒装|礼品装|礼盒包装|礼品包装|礼品袋|礼袋|gift[- ]?(?:wrap\w*|box(?:ed|es)?|bag)", re.I)


# Harm feared on the way ("腊肠寄过去 现在天热 会不会在路上坏掉啊"): a shop matter, not a gift that will not spoil ("送我妈
# 腊肠 要不会坏的"), nor 文化, 破费 or 压力.
HARM_ON_THE_WAY = (r"(?:路上|途中|寄|快递|运输|天热)[^。]{0,12}?会(?:不会)?[^\s，,。]{0,4}?(?:坏|变质|化掉|碎|破(?!费)|压(?!力))|"
                   r"会(?:不会)?[^\s，,。]{0,2}(?:路上|途中)[^\s，,。]{0,2}(?:坏|变质|化掉|碎|破(?!费)|压(?!力))")


# A shop matter asked about a gift is still that matter: "公司过年要采购50份礼盒 能打折不", "送女朋友的 能包好看点吗",
# "收件人写我外婆 东西直接寄她家 里头别放小票哈".
SHOP_MATTERS = re.compile(r"打折|折扣|优惠|发票|开票|专票|普票|报销|小票|价签|价格单|吊牌|收件人|改地址|地址(?:写|填)错|包好看|包漂亮|包一下|包起来|运费|邮费|包邮|包油|快递|发货|退货|退款|换货|分期|付款|(?:能|可以)(?:不能)?退(?=[吗嗎嘛么不？?]|$)|包个?礼盒(?=[吗嗎不么要收多]|$)|(?:要|另)加钱|加钱[吗嗎么不]|加多少钱|"
                          r"花呗|白条|信用卡|支付宝|微信支付|几折|打个折|送不送|赠品|赠送|撤[一个掉]?下?单|退单|"
                          r"积分|会员|装个礼盒|装礼盒|有卖|有没有卖|有货|真空|分装|换成|能换|可以换|给换|换一[个条盒件套]|对公|打款|转账|汇款|"
                          rf"{HAGGLE}|"
                          r"(?:下的?单|订单|单子)[^。.]{0,12}取消|取消[^。.]{0,4}(?:订单|单子)|"
                          r"\b(?:split (?:it|this|that|the \w+) into|discounts?|invoices?|gift[- ]?wrap\w*|shipping|refunds?|installments?|vacuum\w*|exchange|delivered|parcels?|coupons?|promo codes?|(?:1st|first) (?:purchase|order)|anything off|(?:at|through|held|stuck in|cleared?|in) customs|customs (?:fees?|dut(?:y|ies)|clearance|tax(?:es)?)|tracking|"
                          r"paypal|alipay|wechat pay|credit cards?|visa|mastercard|"
                          r"cancel\w*|ordered twice|returns?|wrap(?:ped|ping)?|bank transfer|wire transfer|price (?:list|tags?)|receipt|(?:wrong|change|update|new|fix) (?:\w+ ){0,3}address)\b",
                          re.I)
# Whether the shop has a thing it names ("有没有燕窝", "有火腿吗", "燕窝有没有", "茅台有吗"), also in a gift box ("有大闸蟹礼盒吗",
# "中秋有大闸蟹礼盒吗"), not a kind of gift ("有没有适合送长辈的", "有没有三百块以内", "有没有给领导", "有没有高档一点"), nor a
# gift for an occasion or a person ("中秋有没有礼盒", "有中秋礼盒吗", "有没有过年礼盒", "老人有没有适合的").
_OCCASIONS = r"中秋|春节|過年|过年|新年|年货|年貨|端午|节日|節日|生日|大寿|做寿|祝寿|结婚|結婚|婚礼|婚禮|新婚|乔迁|喬遷|教师节|教師節"
_NAMED = (rf"(?:(?!适合|合适|送|礼|什么|啥|推荐|好|便宜|贵|哪|别|其他|其它|选|给|预算|以内|以下|左右|档|[百千万块元钱]|{_OCCASIONS})"
          r"[\u4e00-\u9fff]){1,6}(?<!的)")
_CLAUSE_END = r"(?=[吗呀啊呢？?，,\s]|$)"
# What a gift box is like or for ("有没有精美礼盒", "有大礼盒吗", "有没有长辈礼盒", "有七夕礼盒吗") is a kind of gift, not a thing.
_BOX_KINDS = r"精美|精致|[大小]礼|高端|高级|商务|企业|公司|员工|长辈|老人|儿童|小孩|伴手|七夕|圣诞|情人|母亲|父亲|重阳|国庆|元旦|妇女"
ASKED_BY_NAME = (rf"有没有{_NAMED}{_CLAUSE_END}|(?:^|你们|你們|你家|店里|店裡|{_OCCASIONS})有{_NAMED}[吗没不]|"
                 rf"(?:有没有|(?:^|你们|你們|你家|店里|店裡|{_OCCASIONS})有)(?!没|{_BOX_KINDS}){_NAMED}礼盒(?:{_CLAUSE_END}|[没不])|"
                 rf"^{_NAMED}有(?:没有{_CLAUSE_END}|吗)|能买到?{_NAMED}[吗不没]")
# So is whether one may eat it ("is the rose flower cake ok for diabetics?", "my grandma is on blood thinners, is pu'er
# ok for her"), a benefit, a card, a box or a bag (also one that comes with it: "青花瓷茶具带礼盒吗 送人用"), a day to
# deliver or to arrive by ("能指定下周六送到吗 那天我妈生日", "上海浦东多久到 给客户送中秋礼"), how heavy or big ("给我老丈人买的
# 金华火腿那个礼盒多重"), what is on it ("女朋友生日想送团扇 上面绣的是啥"), whether the shop
# sends, sells or has it ("can you send pu'er to Vancouver? my parents live there", "do you sell baijiu? ... for my father
# in law", "do you have flower cakes? my wife loved the ones we ate in Kunming"), how long it keeps ("bought a puer cake for my dad as a gift, does it expire??", "去医院看病人带鲜花饼 能放几天", "这饼放个七八年没问题吧 想等儿子
# 结婚…", "will the biscuits still be fine by then"), how two differ ("比别家贵一百多 差在哪"), what kinds the shop has
# ("茶叶都有啥 给我爸买"), how it tastes ("is this spicy? my kids cant eat spicy"), which of two
# named ("寿眉跟白牡丹送长辈哪个好", "送長輩 熟普好還是生普好", "送我爸 生普熟普到底买哪个", "which would my dad like
# more, the shuixian or the shoumei": a judgement, not ideas), how many colours, flavours or packs there are
# ("鲜花饼礼盒都有啥口味", "榨菜礼盒里头几包"), whether it suits oneself or this one suits ("这个适合我吗", "这款送领导合适吗")
# — unless ideas are asked for ("老人有糖尿病，送什么礼物好", "公司发员工福利，有推荐吗").
MATTERS_UNLESS_IDEAS = re.compile(rf"{ASKED_BY_NAME}|福利|盒子|卡片|贺卡|糖尿|孕|过敏|血压|血糖|减肥|降压|降脂|养胃|伤胃|胃不太?好|失眠|上火|"
                                  rf"保质期|过期|{_KEPT}多久|能放多|{_KEPT_HOW_LONG}(?!的)|区别|刻字|定制|礼品袋|礼袋|logo|印(?!象)|搭配|吃素|素食|馅|(?P<taste>[辣甜酸咸])不(?P=taste)|[辣甜酸咸][吗嘛么]|不[辣甜酸咸]的|添加剂|防腐剂|色素|配料|成分|"
                                  r"(?:和|跟|与|还是)[^，,。？?]{1,12}?(?:哪个|哪款|哪种)|(?:到底|究竟)(?:买|选|要|送|拿)?哪[个款种]|适合我(?:[吗嘛么呢喝吃用]|$)|"
                                  r"(?:还是|還是)[^\s，,。！!？?]{1,8}(?:好|合适|合適)(?=[\s，,。！!？?]|$)|"
                                  r"(?:几|哪些|哪几|多少)[个個种種款样樣]?(?:颜色|顏色|口味|味儿|味道)|(?:啥|什么|什麼)(?:颜色|顏色|口味|味儿|味道)|"
                                  rf"{_COUNT_INSIDE}|"
                                  r"(?:这|那)[款个种套盒把饼][^\s，,。？?]{0,8}(?:合适|适合)(?:[吗嘛么不]|$)|"
                                  r"有(?:(?!送|适合|什么|啥)[\u4e00-\u9fff]){1,6}?卖(?:吗|不|没)|"
                                  r"(?<!礼盒|礼物|礼品)(?:都有(?:哪些|啥|什么)(?!适合|送)|(?<!都)有哪些(?!适合|送|礼)|"
                                  r"(?<!都)有哪?几[种款])|"
                                  r"(?:咋|怎么|如何)(?:处理|开壶|用|泡|洗|保养|保存|存|放|吃|喝|煮)|洗衣机|机洗|手洗|干洗|洗碗机|微波炉|烤箱|冰箱|冷冻|"
                                  r"正品|假货|假的|真的吗|先(?:煮|洗|烫|泡)|煮一?煮|开壶|胃炎|肠胃|胃病|是[^\s，,。！!？?]{1,8}还是|放得住(?![^\s，,。]{0,4}的)|放不住|撑得?到(?![^\s，,。]{0,4}的)|撑得住|"
                                  r"正常[吗嘛么不]|塑封|封膜|拆过|掉色|褪色|缩水|(?:什么|啥|哪个|哪家)(?:牌子|品牌)|厂家是|[那哪这]个厂(?:出|产|做)|"
                                  rf"{ARRIVAL}|{HARM_ON_THE_WAY}|带(?:不带)?礼盒|配(?:不配)?礼盒|含礼盒|{_SIZE_ASKED}|多少克|几斤|几克|尺寸|容量|"
                                  r"的是(?:啥|什么)(?![^\s，,。]{0,3}(?:好|合适|礼))|"
                                  r"放(?:个|個|上|了)?[\d一二两三四五六七八九十几]+年|比[^\s，,。]{1,6}(?:贵|貴|便宜)|差在哪|差别|差別|"
                                  r"指定[^\s，,。]{0,6}(?:送|到|收)|约[个個]?时间送|送到[吗嗎不没]|"
                                  r"\b(?:(?:can|could) (?:you|u) (?:send|post|mail)|(?<!what )do (?:you|u) (?:sell|carry|stock|"
                                  r"have(?![^?.!]*\b(?:any(?:thing)?|some(?:thing)?|smth|gifts?|presents?|ideas?|options?|for|"
                                  r"recommend\w*|suggest\w*)\b))|"
                                  rf"{STILL_FINE}|stay fresh|medicat\w*|medicines?|"
                                  r"blood thinners?|(?:ok|okay|safe) for (?:her|him|them|me|someone|people)|"
                                  r"ship|deliver\w*|dishwasher|washing machine|microwave|oven|fridge|freezer|legit|authentic|genuine|fake|"
                                  r"diabet\w*|pregnan\w*|allerg\w*|vegetarian|vegan|expir\w*|shelf life|go bad|"
                                  r"difference|engrav\w*|weight|slim\w*|healthy|additives?|preservatives?|cards?|box(?:ed|es)?|filling|ingredients?|made (?:of|with|from)|"
                                  r"(?:spicy|sweet|sour|salty)(?= or\b|\?)|is (?:it|this|that)\b[^?]{0,20}\b(?:spicy|sweet|sour|salty|smoky|bitter|strong|mild|"
                                  r"oily|greasy|fragile|heavy|chewy)|stomach|gastri\w*|warrant\w*|guarantee\w*|comes? with|fade\w*|wash(?!ington)\w*|"
                                  r"which (?:one )?(?:is|would be) (?:more \w+|\w+er)|"
                                  r"^(?:hi |hey )?(?:do )?(?:you|u) guys (?:sell|have|carry|stock) (?!any(?:thing)?\b|something|gifts?\b)|"
                                  r"^got (?!(?:any )?(?:gifts?\b|anything|something))(?:any )?[a-z' ]{2,30}? (?:or not|anot)|"
                                  r"^(?:is|are|does|do) (?:the|this|that|these|those|it|they)\b|"
                                  r"(?:will|would|can) (?:it|they) (?:reach|get there|be there)|reach\b[^.?!]{0,20}\b(?:before|by)|"
                                  r"which (?:is |one (?:is )?)?better|how many grams|per (?:liter|litre|cup|pot)\b|"
                                  rf"{PREFERRED}[^?]*\bor)\b|(?:^|[.!?]\s*)[\w'-]+(?: [\w'-]+)? or [\w'-]+(?: [\w'-]+)?\?", re.I)
# Ideas asked for, or a wish for the gift ("保质期长一点的有吗", "won't go bad quickly"); not "几种颜色可以挑", a choice there is.
ASKS_FOR_IDEAS = re.compile(r"推荐|送[^\s，,。]{0,3}?(?:什么|啥)|有(?:合适|适合)的|买(?:点|个|些)?(?:什么|啥)|(?<!可以)挑|什么礼物|礼物(?:推荐|选)|什么好|保质期长|放得久|久放|耐放|"
                            r"\b(?:recommend|suggest|ideas?|what (?:gift|should|would|to get|can i get)|^(?:a )?gift for|(?:something|anything) for|"
                            r"won'?t go bad|long shelf life)\b", re.I)
# Whether someone may eat or drink it, or how much ("孩子能喝普洱吗", "can my dad eat the jerky", "核桃一天吃几个合适"):
# a recipient or an occasion without a gift word;
# not what they cannot ("我爸不能喝酒", "喝不惯绿茶", "he can't drink alcohol"), which a gift request may say.
EATING = re.compile(r"(?<![不没])[能可]以?[吃喝]|[嚼咬]得?动|[吃喝](?:几|多少)|[吃喝]了?(?:吗|嘛|[不没](?=[？?。，,\s]|$))|"
                    r"\b(?:can|could|may|should)\b(?!'t| ?not)[^?]*\b(?:eat|drink)\b", re.I)


def is_greeting(text: str) -> bool:
    """A greeting and nothing asked after it ("你好，在吗"; not "亲 鲜花饼能撑到下个月中旬吗", "请问有乌鱼子吗")."""
    text = text.strip()
    rest = GREETING.sub("", text)
    if rest == text:  # no greeting word: "有核吗" after the apricots asks, and "any honey?"
        return not (is_question(rest, MIN_CJK_ANY) or _asked_briefly_in_english(rest))
    return not is_question(rest, MIN_CJK_SHORT)


def _names(text: str, *names: re.Pattern) -> bool:
    """Whether ``text``, past a greeting and an address, names one of ``names``."""
    asked = ADDRESS.sub("", GREETING.sub("", text.strip()))
    return any(name.search(asked) for name in names)


def asks_about_the_bot(text: str) -> bool:
    """"你是真人吗", "are you a bot": not "咖啡豆是深烘还是浅烘", which DIET reads the same way, nor an English sentence
    after it that asks of neither of us ("are u a bot or human lol. what water temp for longjing"; not "…? how do you
    answer so fast")."""
    if not CJK_CHARACTER.search(text) and any(is_question(sentence) and not ABOUT_US.search(sentence)
                                     for sentence in re.split(r"(?<=[.?!])\s+", text.strip())[1:]):
        return False
    return _names(text, ABOUT_THE_BOT) or not is_question(text, MIN_CJK_SHORT, MIN_WORDS_ASKED)


# The bot or the customer named in English: a sentence that asks about the chat itself.
ABOUT_US = re.compile(rf"\b(?:you|u|your|ur|yours|i|me|my|bot|human|real|person)\b|{ABOUT_THE_BOT.pattern}", re.I)


def asks_for_a_person(text: str) -> bool:
    """"转人工", "能视频看看吗", or a short request with no question in it: not "这茶能泡几遍", which DIET can read as
    asking for a person, nor an order's trouble or a shop matter told without naming anyone ("拍了两罐巴旦木 只来了一罐",
    "帮我直接寄我丈母娘家 里面别放价格单哈"), which the knowledge base answers."""
    return _names(text, A_PERSON, SHOWING, PERSON_WANTED) or not (is_question(text, MIN_CJK, MIN_WORDS_ASKED) or tells_a_matter(text))


def tells_a_matter(text: str) -> bool:
    """Trouble with an order, or a shop matter told in more than a reply's few words."""
    return bool(reported_trouble(text)) or _says_more(text) and bool(SHOP_MATTERS.search(text))


# A person asked for in so many words ("找个人工", "你们经理在吗", "can I speak to customer service?", "客服电话多少 打字太慢了"):
# DIET read some as a greeting, a storage question or who answers, and a customer who wanted a person got an answer.
# Not "老板在吗" or "客服在吗", which open a chat in Chinese shops.
PERSON_WANTED = re.compile(
    r"(?:转|找|叫|换|接|联系|我要)(?:个|一下|下|一个)?(?:人工|真人|店员|店員|店长|店長|经理|經理|主管|店主|负责人|負責人|"
    rf"工作人员|工作人員|客服|售后|售後)(?!{_BY_HAND})|"
    r"(?:^|[\s，,。！!？?])我?(?:要|需要|想要)个?(?:人工|真人)(?:客服|服务)?(?=[\s，,。！!？?吗呀啊了~]|$)|"
    r"(?:经理|經理|主管|店主|店长|店長|负责人|負責人)(?:在吗|在嗎|在不在|呢)|"
    r"(?:客服|人工|店家|商家|店里|店裡)的?(?:电话|電話|手机号|手機號)|打字太慢|"
    rf"我要投[诉訴]|{_SEND_PHOTO}(?:{_GOODS_PHOTO})|"
    r"\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a |an |the |your |some )?(?:real )?(?:human|person|staff|agent|"
    r"manager|owner|representative|customer (?:service|support))\b|"
    r"\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:someone|somebody|anyone|anybody)\W*$|"
    r"\b(?:some|any)(?:one|body) (?:(?:i|we) can |to )(?:talk|speak|chat)\b|"
    r"\bsend (?:me |us )?(?:a |some |a few |more |real )*(?:photos?|pictures?|pics?)\b",
    re.I)
# A person declined in so many words ("不用转人工了", "I don't want to talk to a human"); not any negation ("转人工，特别急",
# "我要投诉，不要机器人"), nor 人工智能. What is left of a message once they are taken out may still ask for one
# ("不要客服机器人，我要人工").
DECLINED = re.compile(r"(?:(?<!用)不用|(?<!需)不需要|(?<!要)不要|无需|没必要|别)再?(?:转|找|叫|换|接|联系)?(?:个|一下)?(?:人工(?!智能)|真人|客服|店员|"
                      r"店員|经理|經理|店长|店長|主管|店主|负责人|負責人|工作人员|工作人員)|"
                      r"\b(?:no need to|(?:don'?t|do not|doesn'?t) (?:want|need) to)\s+(?:talk|speak|chat)"
                      r"\s+(?:to|with)\s+(?:a |an |the |any |your |some )?(?:real )?(?:human|person|staff|agent|people|"
                      r"someone|anyone|somebody|anybody)|"
                      r"\b(?:don'?t|do not) (?:want|need) (?:a |an |any )?(?:real )?(?:human|person|staff|agent)s?\b", re.I)
# Coming back later or thinking it over ("好的 我过几分钟再来看看", "买不买我再想想"): DIET read some as gift requests.
LATER = re.compile(r"过几分钟|過幾分鐘|几分钟后(?:再来|再回|回来|回|来)|幾分鐘後(?:再來|再回|回來|回|來)|给我几分钟|給我幾分鐘|"
                   r"我想想|等一?会儿?|待会|一会儿?再|回头再|稍后|晚点再|再想想|考虑一下|考虑考虑|"
                   r"\b(?:later|think about it|think it over)\b", re.I)
NLU_FALLBACK = "nlu_fallback"  # rasa.shared.constants.DEFAULT_NLU_FALLBACK_INTENT_NAME
SMALL_TALK = frozenset({"goodbye", "thank", "affirm", "deny"})


def overruled_intent(intent: str | None, text: str, entities: set[str]) -> str | None:
    """The intent a message has instead of the one DIET read (``None``: DIET's stands); ``entities`` as
    ``gift_entities`` gives them.

    A person asked for by name is asked for, whatever DIET read. A question is never small talk (DIET learnt "不"
    and "没" endings from "不用了", so "买个紫砂壶能分期不" was deny), nor is a shop matter told in a few words
    ("昨晚下的单还没发吧 帮我取消了 不想要了") or goods told broken ("one of the cups came cracked"), nor a greeting
    ("亲 鲜花饼能撑到…"), nor who answers unless a person or a bot is named ("咖啡豆是深烘还是浅烘"), nor a request
    for a person or a video that names neither ("这茶能泡几遍") or that tells an order's trouble or a shop matter
    without naming anyone ("拍了两罐巴旦木 只来了一罐"), nor a gift request that names nothing of a gift ("买这个有积分吗") or that
    reports trouble with an order ("我买的灰枣 寄来的是骏枣") or, in a few words, tells of a shop matter ("my parcel
    shows delivered but theres nothing at my door"): those go to the knowledge base. A person declined ("不用转人工了")
    is not asked for. "I'll come back later" read as a gift request is goodbye.
    """
    rest = DECLINED.sub(" ", text)
    if intent not in ("request_human", "request_video") and PERSON_WANTED.search(rest):
        return "request_human"
    if (intent in ("request_human", "request_video") and rest != text
            and not any(name.search(rest) for name in (PERSON_WANTED, A_PERSON, SHOWING))):
        return NLU_FALLBACK if is_question(text) or _says_more(rest) else "deny"
    if (intent in SMALL_TALK and (is_question(text, MIN_CJK_SHORT) and not REPLY_ONLY.fullmatch(text)
                                  or BRIEFLY_ASKED.search(text) or _says_more(text) and (SHOP_MATTERS.search(text) or _told_harm(text))
                                  or _asked_briefly_in_english(text))
            or intent == "greet" and (not is_greeting(text)
                                      or _says_more(GREETING.sub("", text)) and SHOP_MATTERS.search(text))
            or intent == "bot_challenge" and not asks_about_the_bot(text)
            or intent in ("request_human", "request_video") and not asks_for_a_person(text)
            or intent == "request_gift" and ((is_question(text, MIN_CJK_SHORT) or _asked_briefly_in_english(text))
                                             and not is_gift_request(text, entities)
                                             or tells_a_matter(text))):
        return NLU_FALLBACK
    if (intent == "request_gift" and LATER.search(text) and not is_question(text) and not entities
            and not GIFT_WORDS.search(text)):
        return "goodbye"
    return None


# Harm denied ("no its fine, not damaged at all", "没碎"): a reply.
HARM_DENIED = re.compile(r"[没沒](?:有)?[碎坏壞破裂]|\b(?:not|no|isn'?t|wasn'?t|nothing)\b[^.?!]{0,12}?(?:damag|broke|crack|spoil|mou?ld|bad)",
                         re.I)


def _told_harm(text: str) -> bool:
    """Goods told broken or spoilt ("one of the cups came cracked"), which no yes or no replies (the wrong item may:
    "不是我要的" is a no)."""
    return reported_trouble(text) in ("damaged", "spoiled") and not HARM_DENIED.search(text)


def _asked_briefly_in_english(text: str) -> bool:
    """A word or two asked in English ("dishwasher safe?"), not a reply ("really?")."""
    return "?" in text and not CJK_CHARACTER.search(text) and not REPLY_ONLY_EN.fullmatch(text)


def _says_more(text: str) -> bool:
    """Whether ``text`` (a message less the person it declines) says more than a reply ("了，谢谢"): "我要退货"."""
    return len(CJK_CHARACTER.findall(text)) >= MIN_CJK_SHORT or len(re.findall(r"[a-z]+", text, re.I)) >= MIN_WORDS


def gift_entities(entities: list[dict], text: str = "") -> set[str]:
    """The gift entities (recipient, occasion, budget) among the NLU's whose values can be what they are tagged
    (in ``text``, the message they were found in: a budget's figure is not followed by a unit of time or weight)."""
    return {e["entity"] for e in entities
            if str(e.get("value", "")) in GIFT_VALUES.get(e.get("entity"), ())
            or e.get("entity") == "budget" and BUDGET_VALUE.search(str(e.get("value", "")))
            and not NOT_MONEY.match(text, e.get("end", len(text)))}


def is_gift_request(text: str, entities: set[str]) -> bool:
    """A gift request names the gift side of it (a word like 送 or 礼, or who, what for, how much: ``entities``
    from ``gift_entities``) and asks no shop matter, also where the part that asks starts after a story ("Moving into
    my first apartment next month… Do you guys sell jade bracelets?")."""
    if (any(SHOP_MATTERS.search(part) or (MATTERS_UNLESS_IDEAS.search(part) and not ASKS_FOR_IDEAS.search(part))
            for part in {text, asked_part(text)[0]})
            or FOR_ONESELF.search(text) and not entities and not GIVEN.search(text)):
        return False
    if GIFT_WORDS.search(GIFT_PACKING.sub(" ", text)):
        return True
    return bool(entities) and not EATING.search(text)
