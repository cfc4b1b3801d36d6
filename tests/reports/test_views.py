#!/usr/bin/env python3
"""The two views of a report (DESIGN.md 4.8, 4.9; issues 12 and 18 items 2 and 6), driven through
benchctl report show as a shop would use it, on the fixtures of make_fixtures.py:
  - the customer view says one plain sentence first, names the parts to replace once, shows the
    shop, the ticket, local time, the report id, the gauge and the battery trend with its forecast
    sentence, in en, it, fr and zh, and none of the internals (evidence keys, key=value evidence,
    hashes, tree names, sources, command lines, fault codes, raw UTC times, case ids);
  - the technician view keeps everything, the case fields included;
  - questions, parts and incomplete reasons render in the chosen language (texts), and an older
    report without texts falls back to what it has;
  - every forecast form gets its sentence; nonsense history and forecasts are left out, never
    drawn and never a crash."""
import base64
import copy
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET

from common import BENCHCTL, FIXTURES, TempDir, check, finish, run, tool

os.environ["TZ"] = "Europe/Rome"
JWK = os.path.join(FIXTURES, "rfc8037.jwk")
LANGS = ("en", "it", "fr", "zh")


def show(jws, *args, lang=None, env=None, conf=None):
    cmd = ([] if lang is None else ["--lang", lang]) + ["report", "show", jws, "--key", JWK, "--trees-dir", FIXTURES]
    if conf:
        cmd += ["--config", conf]
    if env is None:
        return run(cmd + list(args), "/nonexistent-state")
    p = subprocess.run([BENCHCTL, "--state-dir", "/nonexistent-state"] + cmd + list(args), capture_output=True,
                       timeout=60, env=dict(os.environ, **env))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def visible(html):
    """What a reader of the page sees or hears: text and the accessible labels, without the CSS."""
    root = ET.fromstring(html.split("\n", 1)[1])
    out = []
    for el in root.iter():
        tag = el.tag.split("}")[-1]
        if tag not in ("style", "script") and el.text:
            out.append(el.text)
        if el.tail:
            out.append(el.tail)
        for a in ("aria-label", "title", "alt"):
            if el.get(a):
                out.append(el.get(a))
    return " ".join(" ".join(out).split())


def h1(html):
    root = ET.fromstring(html.split("\n", 1)[1])
    return "".join(next(root.iter("h1")).itertext())


# What the customer must never read (issue 18 item 6).
INTERNALS = [
    (r"DOMAIN\.md", "a source citation (DOMAIN.md)"),
    (r"iFixit|\[[ABCD]\]|kBHSvcFlag|powerd", "a source"),
    (r"\b\w+=\S", "key=value evidence"),
    (r"\b(confidence|rated_cycles|cycle_count|health_pct|panics_7d|threshold|rule)\b", "an evidence key"),
    (r"\b[0-9a-f]{40,64}\b", "a hash"),
    (r"sha-?256", "a hash name"),
    (r"\b(panics|syslog|battery|storage|system)/", "a tree name"),
    (r"missing sensor|battery-peak-power|battery-service", "a tree node or signature id"),
    (r"benchctl|--answer|--key|verify ", "a command line"),
    (r"\b(BAT|PAN|LOG|STO|SYS)-\d{3}\b", "a fault code"),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d|\bUTC\b|\b\d\d:\d\d:\d\dZ", "a raw UTC time"),
    (r"7a1e0c9b-3d2f|c3b2a190-8f7e|kPrK_|Ed25519", "a case id, key id or algorithm"),
    (r"incomplete_why|outcome_|cust_|head_|fc_", "a raw label key"),
]


def no_internals(text, what):
    found = [name for pat, name in INTERNALS if re.search(pat, text, re.I)]
    check(not found, "%s shows no internals (found: %s)" % (what, found))


HEAD = {
    "trend": {"en": "Your iPhone 11 needs 2 parts replaced.", "it": "Il tuo iPhone 11 ha bisogno di sostituire 2 parti.",
              "fr": "Sur votre iPhone 11, 2 pièces sont à remplacer.", "zh": "您的 iPhone 11 需要更换 2 个部件。"},
    "worn": {"en": "Your iPhone 11 needs a new battery.", "it": "Il tuo iPhone 11 ha bisogno di una batteria nuova.",
             "fr": "Votre iPhone 11 a besoin d’une nouvelle batterie.", "zh": "您的 iPhone 11 需要更换电池。"},
    "healthy": {"en": "Your iPhone 15 Pro passed every check.", "it": "Il tuo iPhone 15 Pro ha superato tutti i controlli.",
                "fr": "Votre iPhone 15 Pro a réussi tous les contrôles.", "zh": "您的 iPhone 15 Pro 通过了所有检测。"},
    "waiting": {"en": "We could not finish checking your iPhone 11 Pro.",
                "it": "Non abbiamo potuto completare il controllo del tuo iPhone 11 Pro.",
                "fr": "Nous n’avons pas pu terminer le contrôle de votre iPhone 11 Pro.",
                "zh": "我们未能完成对您的 iPhone 11 Pro 的检测。"},
}
FORECAST = {
    "range": {"en": "At this rate your battery reaches 80 % in 6 to 10 months.",
              "it": "Di questo passo la batteria arriverà all’80 % tra 6 e 10 mesi.",
              "fr": "À ce rythme, votre batterie atteindra 80 % dans 6 à 10 mois.",
              "zh": "按目前的速度，您的电池将在 6 到 10 个月后降至 80%。"},
    "below": {"en": "Your battery is already below 80 % of its original capacity.",
              "it": "La batteria è già sotto l’80 % della capacità originale.",
              "fr": "Votre batterie est déjà sous 80 % de sa capacité d’origine.", "zh": "您的电池容量已低于原始容量的 80%。"},
    "early": {"en": "It is too early to tell how fast your battery is wearing",
              "it": "È ancora presto per dire quanto velocemente si consuma la batteria",
              "fr": "Il est encore trop tôt pour dire à quelle vitesse votre batterie s’use",
              "zh": "现在判断电池的老化速度还为时过早"},
}
WHEN = {"en": "22 November 2026, 11:00 CET", "it": "22 novembre 2026, 11:00 CET", "fr": "22 novembre 2026 à 11:00 CET",
        "zh": "2026年11月22日 11:00 CET"}
PARTS_LABEL = {"en": ("Parts to replace", "Part to replace"), "it": ("Parti da sostituire", "Parte da sostituire"),
               "fr": ("Pièces à remplacer", "Pièce à remplacer"), "zh": ("需更换的部件", "需更换部件")}
SIGNED = {"en": "This report is signed by our repair bench", "it": "Questo rapporto è firmato dal nostro banco",
          "fr": "Ce rapport est signé par notre banc", "zh": "本报告由我们的维修检测台签名"}


def fixture(name):
    return os.path.join(FIXTURES, "view-%s.jws.json" % name)


def signed_variant(tmp, name, base, change):
    """A variant of a fixture report, signed with the test key."""
    rep = json.load(open(os.path.join(FIXTURES, "view-%s.json" % base), encoding="utf-8"))
    change(rep)
    path = os.path.join(tmp, name + ".json")
    json.dump(rep, open(path, "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    jws = os.path.join(tmp, name + ".jws.json")
    open(jws, "wb").write(tool("sign-fixed", path))
    return jws


with TempDir() as tmp:
    conf = os.path.join(tmp, "benchd.conf")
    open(conf, "w", encoding="utf-8").write(
        "[bench]\nlang = it\n[shop]\nname = Riparazioni Rossi\ncontact = Via Roma 12, 20121 Milano · 02 1234 5678\n")

    # ---- the customer page: four faults and a trend, in four languages ----
    for lang in LANGS:
        rc, page, err = show(fixture("trend"), "--format", "html", "--view", "customer", lang=lang, conf=conf)
        check(rc == 0 and err == "", "customer html %s renders quietly (%s)" % (lang, err.strip()))
        text = visible(page)
        no_internals(text, "customer html %s" % lang)
        check(h1(page) == HEAD["trend"][lang], "customer html %s says one plain sentence first: %s" % (lang, h1(page)))
        check(page.index("<h1") < page.index('class="replace"') < page.index('class="found"'),
              "customer html %s: the sentence, then the parts, then the findings" % lang)
        plural, singular = PARTS_LABEL[lang]
        check(text.count(plural) == 1 and singular not in text.replace(plural, ""),
              "customer html %s names the parts to replace once, not per finding" % lang)
        check("Riparazioni Rossi" in text and "Via Roma 12, 20121 Milano" in text, "customer html %s shows the shop" % lang)
        check(WHEN[lang] in text, "customer html %s shows the local time (%s)" % (lang, WHEN[lang]))
        check("T-4711" in text and "0d6f3a52-7c1e-4b8a-9f20-5e4d3c2b1a09" in text,
              "customer html %s shows the ticket and the report id" % lang)
        check(SIGNED[lang] in text, "customer html %s says in one line that the report is signed" % lang)
        check(FORECAST["range"][lang] in text, "customer html %s gives the forecast sentence" % lang)
        trend = re.search(r'<svg class="trend".*?</svg>', page)
        check(trend is not None and trend.group(0).count("<circle") == 5 and "<polygon" in trend.group(0)
              and "80 %" in trend.group(0), "customer html %s draws the trend: this battery's 5 readings, 80 %%, "
              "the interval (not the old battery's reading)" % lang)
        check('<svg class="gauge"' in page and ">84%<" in page, "customer html %s draws the gauge" % lang)
        rc, out, err = show(fixture("trend"), "--view", "customer", lang=lang, conf=conf)
        check(rc == 0, "customer text %s renders" % lang)
        no_internals(out, "customer text %s" % lang)
        check(HEAD["trend"][lang] in out.split("\n\n")[2], "customer text %s: the sentence first after the header" % lang)
        check(FORECAST["range"][lang] in out and WHEN[lang] in out, "customer text %s: forecast and local time" % lang)

    # The other fixtures: each page's first sentence and forecast, in four languages.
    for name, fc in (("worn", "below"), ("healthy", "early"), ("waiting", None)):
        for lang in LANGS:
            rc, page, err = show(fixture(name), "--format", "html", lang=lang)
            check(rc == 0 and h1(page) == HEAD[name][lang], "%s %s: %s" % (name, lang, h1(page)))
            no_internals(visible(page), "customer html of %s in %s" % (name, lang))
            if fc:
                check(FORECAST[fc][lang] in visible(page), "%s %s gives the %s sentence" % (name, lang, fc))
    rc, page, err = show(fixture("healthy"), "--format", "html", lang="en")
    check("We found nothing wrong." in visible(page) and 'class="replace"' not in page,
          "a phone that passed lists no part to replace")

    # ---- issue 18 item 2: questions, parts and reasons in the chosen language ----
    rep = json.load(open(os.path.join(FIXTURES, "view-waiting.json"), encoding="utf-8"))
    for lang in LANGS:
        for fmt in ("text", "html"):
            rc, out, err = show(fixture("waiting"), "--format", fmt, "--view", "technician", lang=lang)
            q = rep["questions"][0]["texts"][lang]
            r = rep["incomplete"][0]["texts"][lang]
            if fmt == "html":
                q, r = q.replace("'", "&#39;"), r.replace("'", "&#39;")
            check(rc == 0 and q in out, "technician %s %s: the question in %s" % (fmt, lang, lang))
            check(r in out and "AFC: the device closed the connection" in out,
                  "technician %s %s: the reason in %s, with its detail" % (fmt, lang, lang))
            check("incomplete_why" not in out, "technician %s %s: no raw label key" % (fmt, lang))
            if lang != "en":
                check(rep["questions"][0]["texts"]["en"] not in out, "technician %s %s: no English question" % (fmt, lang))
                check("battery or charge-port flex" not in out, "technician %s %s: the part is not English" % (fmt, lang))
    rc, out, err = show(fixture("waiting"), "--view", "technician", lang="fr")
    check("Pourquoi le diagnostic est incomplet" in out and "Diagnostic incomplet" in out and "[majeur]" in out,
          "technician text fr: heading, outcome and severity in French")
    check("batterie ou nappe du port de charge (les batteries de l'11 Pro ont un second connecteur)" in out,
          "technician text fr: the composite part a tree made, piece by piece in French")
    check("--answer tg0b_new_battery=yes|no" in out, "technician text: how to answer, with the choices")
    rc, out, err = show(fixture("waiting"), "--view", "customer", lang="fr")
    check("Batterie ou nappe du port de charge" in out and "(les batteries" not in out,
          "customer text fr: the part in plain French words")
    check("les rapports de plantage n'ont pas pu être lus" in out and "AFC" not in out,
          "customer text fr: why it is incomplete, in French, without the driver's detail")
    # An older report without texts: what it has, in English, and no crash.
    old = signed_variant(tmp, "old", "waiting", lambda r: ([q.pop("texts") for q in r["questions"]],
                                                           [i.pop("texts") for i in r["incomplete"]]))
    for view in ("technician", "customer"):
        rc, out, err = show(old, "--view", view, lang="fr")
        check(rc == 0 and "the crash reports could not be read" in out,
              "an older report without texts (%s fr): its English reason" % view)
    rc, out, err = show(old, "--view", "technician", lang="fr")
    check(rep["questions"][0]["text"] in out, "an older report without texts: the question as the bench wrote it")

    # ---- the case and the views' defaults ----
    rc, out, err = show(fixture("trend"), lang="en")
    check("Evidence: " in out and "Case id: 7a1e0c9b-3d2f-4e8a-b6c5-0f1e2d3c4b5a" in out and "Revision: 2" in out
          and "Supersedes: c3b2a190-8f7e-4d6c-b5a4-9382716a5b4c" in out and "Ticket: T-4711" in out,
          "text defaults to the technician view, with the case fields")
    check("2025年" not in out and "1 June 2025: 79 % health, 640 cycles (battery serial F5D0OLDBATT)" in out,
          "the technician view lists every history row, the old battery's too")
    rc, page, err = show(fixture("trend"), "--format", "html", lang="en")
    check('class="found"' in page and "Evidence" not in page, "html defaults to the customer view")
    rc, page, err = show(fixture("trend"), "--format", "html", "--view", "technician", lang="en")
    check("Evidence" in page and "7a1e0c9b-3d2f-4e8a-b6c5-0f1e2d3c4b5a" in page and '<svg class="trend"' in page
          and "based on 5 visits, 492 cycles over 367 days" in page,
          "technician html: evidence, case id, the trend and the forecast's basis")
    rc, out, err = show(fixture("trend"), "--view", "customer", conf=conf)
    check(HEAD["trend"]["it"] in out, "--config gives the page its [bench] lang when --lang is not given")
    rc, out, err = show(fixture("trend"), "--view", "customer", lang="fr", conf=conf)
    check(HEAD["trend"]["fr"] in out, "--lang wins over the configuration's language")
    rc, out, err = show(fixture("trend"), "--view", "customer", lang="en", env={"TZ": "America/New_York"})
    check("22 November 2026, 05:00 EST" in out, "local time follows TZ (New York: 05:00 EST)")
    summer = signed_variant(tmp, "summer", "trend", lambda r: r.update(created_at="2026-07-01T10:00:00Z"))
    rc, out, err = show(summer, "--view", "customer", lang="it")
    check("1 luglio 2026, 12:00 CEST" in out, "summer time is summer time (12:00 CEST)")
    rc, out, err = show(fixture("trend"), "--view", "purchaser")
    check(rc == 2 and "--view must be customer or technician" in err, "--view takes customer or technician")

    # ---- every forecast form, and nonsense that must not be drawn ----
    def forecast(fc):
        return lambda r: r["readings"].__setitem__("battery_forecast", fc)

    cases = [
        ("new", {"status": "new battery"}, {"en": "Your battery is new: we will see how it wears at your next visits.",
                                            "zh": "您的电池是新的：我们会在之后的检测中观察它的老化情况。"}),
        ("about", {"months_to_80": [3, 3]}, {"en": "At this rate your battery reaches 80 % in about 3 months.",
                                             "it": "Di questo passo la batteria arriverà all’80 % tra circa 3 mesi."}),
        ("soon", {"months_to_80": [0.2, 0.9]}, {"en": "At this rate your battery reaches 80 % within a month.",
                                                "fr": "À ce rythme, votre batterie atteindra 80 % d’ici un mois."}),
        ("years", {"months_to_80": [36, 60]}, {"en": "At this rate your battery reaches 80 % in 3 to 5 years.",
                                               "zh": "按目前的速度，您的电池将在 3 到 5 年后降至 80%。"}),
        # open_ended: the high end is the tree's 5-year horizon, never said as a bound
        ("open", {"months_to_80": [14, 60], "open_ended": True},
         {"en": "At this rate your battery reaches 80 % in 14 months at the soonest, perhaps much later.",
          "fr": "À ce rythme, votre batterie atteindra 80 % dans 14 mois au plus tôt, peut-être bien plus tard."}),
        ("beyond", {"months_to_80": [60, 60], "open_ended": True},
         {"en": "At this rate your battery stays above 80 % for five years or more."}),
    ]
    for name, fc, want in cases:
        jws = signed_variant(tmp, "fc-" + name, "trend", forecast(fc))
        for lang, sentence in want.items():
            rc, out, err = show(jws, "--view", "customer", lang=lang)
            check(rc == 0 and sentence in out, "forecast %s in %s: %s" % (name, lang, sentence))
    for i, fc in enumerate(({"months_to_80": [10, 5]}, {"months_to_80": ["6", 10]}, {"months_to_80": [-1, 3]},
                            {"months_to_80": [1, 2, 3]}, {"months_to_80": [1, 1e9]}, {"status": "bogus"}, "x", [6, 10])):
        jws = signed_variant(tmp, "fc-bad-%d" % i, "trend", forecast(fc))
        rc, page, err = show(jws, "--format", "html", lang="en")
        check(rc == 0 and "At this rate" not in page and "<polygon" not in page,
              "a nonsense forecast %s is neither said nor drawn" % json.dumps(fc))

    def bad_history(r):
        h = r["inputs"]["history"]
        h.reverse()  # out of order: drawn in time order anyway
        h += [{"at": "yesterday", "health_pct": 90}, {"at": "2026-01-01T00:00:00Z", "health_pct": "ninety"},
              {"at": "2026-01-02T00:00:00Z", "health_pct": 1e9}, {"at": "2027-05-01T00:00:00Z", "health_pct": 99},
              "row", None, {"at": "2026-01-03T00:00:00Z"}]
    jws = signed_variant(tmp, "bad-history", "trend", bad_history)
    rc, page, err = show(jws, "--format", "html", lang="en")
    trend = re.search(r'<svg class="trend".*?</svg>', page)
    xs = [float(m) for m in re.findall(r'<circle cx="([0-9.]+)"', trend.group(0))] if trend else []
    check(rc == 0 and len(xs) == 5 and xs == sorted(xs),
          "history rows without a time or a sane health, or from the future, are left out; the rest in time order")
    rc, out, err = show(jws, "--view", "technician", lang="en")
    check(rc == 0 and "yesterday: 90 % health, ? cycles" in out and "1 January 2026: ? % health, ? cycles" in out,
          "the technician view lists odd rows as recorded")
    jws = signed_variant(tmp, "no-history", "trend", lambda r: (r.pop("inputs"), r["readings"].pop("battery_forecast")))
    rc, page, err = show(jws, "--format", "html", lang="en")
    check(rc == 0 and '<svg class="trend"' not in page and "At this rate" not in page and '<svg class="gauge"' in page,
          "a report without history or forecast (an older one): the gauge, no trend")

    # ---- a report that does not verify: both views warn, the customer one in plain words ----
    j = json.load(open(fixture("trend")))
    p = bytearray(base64.urlsafe_b64decode(j["payload"] + "=="))
    p[p.index(b"T-4711")] = ord("X")
    j["payload"] = base64.urlsafe_b64encode(bytes(p)).rstrip(b"=").decode()
    bad = os.path.join(tmp, "bad.jws.json")
    json.dump(j, open(bad, "w"))
    rc, page, err = show(bad, "--format", "html", lang="en")
    check(rc == 6 and 'class="warn"' in page and "does not verify" in visible(page)
          and "signed with another key" not in page, "customer page of an altered report: a plain warning, exit 6")
    check(err.count("the signature does not verify") == 1, "the warning on stderr says it once: %s" % err.strip())
    rc, out, err = show(bad, "--view", "technician", lang="en")
    first = out.splitlines()[0]
    check(rc == 6 and first.count("does not verify") == 1 and "signed with another key" in first,
          "technician text of an altered report: one warning line with the reason, said once")

    # ---- --json: one compact line ----
    rc, out, err = show(fixture("trend"), "--json")
    check(rc == 0 and out.count("\n") == 1 and json.loads(out)["report_id"] == "0d6f3a52-7c1e-4b8a-9f20-5e4d3c2b1a09",
          "--json prints the payload on one line")
    rc, out, err = show(bad, "--json")
    o = json.loads(out) if out.count("\n") == 1 else {}
    check(rc == 6 and o.get("ok") is False and "does not verify" in o.get("error", "") and "report" in o,
          "--json of an altered report: ok false, the error, the payload beside it")

finish()
