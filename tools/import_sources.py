"""Import ../shared/sources into corpus/ (run once; the output is committed and edited by staff).

Web articles keep their wording verbatim. The only changes are structural: heading lines become
Markdown headings, "•" bullets become "- " items attached to their lead-in line, and site chrome that
is not article content (listed per file below, with the reason) is left out.

    python tools/import_sources.py ../shared/sources corpus
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# Per article: front matter, heading lines, lines dropped (chrome), and a line from which all is chrome.
WEB = {
    "000_0d19eeb222b811b3.txt": dict(
        id="arv-ldn-fibromyalgia", publisher="Health by ARV, Toronto (clinic)",
        headings=["Low Dose Naltrexone (LDN) Therapy for Fibromyalgia & Chronic Pain",
                  "What is lose dose naltrexone?",
                  "HOW DOES LDN THERAPY WORK FOR FIBROMYALGIA RELATED PAIN?",
                  "Studies on LDN Therapy & Pain", "WHERE DO I GET LOW DOSE NALTREXONE IN CANADA?",
                  "References"],
        drop=[], drop_prefix=["ARE YOU SEEKING LOW DOSE NALTREXONE IN TORONTO?",  # contact line
                              "Looking for more resources?"],  # navigation prompt
        cut=None),
    "001_102518f2ec29c4c7.txt": dict(
        id="ldn-fibromyalgia-evidence-faq", publisher="Health information site (no publisher named)",
        headings=["Does Naltrexone Help With Fibromyalgia: Exploring the Evidence",
                  "Understanding Fibromyalgia and Its Challenges",
                  "The Role of Inflammation and the Immune System", "What is Low-Dose Naltrexone (LDN)?",
                  "How LDN Might Help with Fibromyalgia",
                  "Evidence Supporting the Use of LDN for Fibromyalgia",
                  "Potential Side Effects and Precautions", "The Importance of a Holistic Approach",
                  "Comparing LDN to Traditional Fibromyalgia Treatments",
                  "Common Mistakes and Misconceptions", "Finding a Healthcare Provider Who Prescribes LDN",
                  "Frequently Asked Questions (FAQs)"],
        faq_headings=True,  # FAQ questions (lines ending in "?") become sub-headings
        drop=["Leave a Comment"],  # comment prompt (also glued to the last line)
        cut=None),
    "002_af7fbebf6e06c556.txt": dict(
        id="alexander-ease-fibromyalgia-naltrexone",
        publisher="Adele Alexander, medical advocate (personal article)",
        headings=["How Naltrexone can be helpful for Fibromyalgia patients?",
                  "Safety measures to use Naltrexone as a medication", "What to expect from LDN?"],
        drop=[], cut="Adele Alexander is a medical advocate",  # author bio, kept in front matter
    ),
    "003_c51d2bb2fec292e1.txt": dict(
        id="cpbh-ldn-fibromyalgia",
        publisher="Compounding Pharmacy of Beverly Hills (sourced by CareFirst RX)",
        headings=["What is Naltrexone?", "Low Dose Naltrexone vs. High Dose Naltrexone",
                  "What is Fibromyalgia?", "Low Dose Naltrexone For Fibromyalgia",
                  "Medication Availability"],
        drop=["Fibromyalgia"],  # category label above the article
        cut="Sourced by: CareFirst RX",  # then unrelated "Featured Posts"
    ),
    "004_81223554d3113bdd.txt": dict(
        id="trinova-ldn-part-2", title="Low Dose Naltrexone (LDN), Part 2",
        publisher="Trinova Health (licensed compounding pharmacy, Tampa FL)",
        headings=["Resources"], drop=["Skip to main content",
                                      # navigation to the series' other parts, not article content:
                                      "Just in case you didn’t have the chance to read it yet, be sure to "
                                      "check out Part 1 of our series on Low Dose Naltrexone (LDN)!"],
        drop_sentences=[" Remember to check back soon to find out more about low dose naltrexone (LDN)!"],
        cut="DISCLAIMER",  # site-wide disclaimer, comment prompt, address, phone, e-mail
    ),
}
CONTACT = " Contact us today to learn more."  # 003: a contact line at the end of a paragraph
BIO = "Adele Alexander is a medical advocate"


def convert(raw: str, spec: dict) -> tuple[str, str]:
    lines = raw.replace("\r\n", "\n").split("\n")
    title = spec.get("title") or lines[0].strip()
    if not spec.get("title"):
        lines = lines[1:]
    out: list[str] = [f"# {title}", ""]
    in_faq = False
    for line in lines:
        text = line.strip().replace("\u00a0", " ")
        if spec["cut"] and text.startswith(spec["cut"]):
            break
        if text.endswith("Leave a Comment"):
            text = text[: -len("Leave a Comment")].rstrip()
        if text in spec["drop"] or any(text.startswith(d) for d in spec.get("drop_prefix", [])):
            continue
        text = text.replace(CONTACT, "")
        for sentence in spec.get("drop_sentences", []):
            text = text.replace(sentence, "")
        if (text in spec["headings"] or (in_faq and text.endswith("?"))) and out[-1] != "":
            out.append("")
        if text in spec["headings"]:
            in_faq = text.startswith("Frequently Asked")
            out += [f"## {text}", ""]
        elif in_faq and spec.get("faq_headings") and text.endswith("?"):
            out += [f"### {text}", ""]
        elif text.startswith("\u2022 "):
            if out and out[-1] == "" and len(out) > 1 and not out[-2].startswith("- ") and out[-2].endswith(":"):
                out.pop()  # attach the list to its lead-in line
            out += [f"- {text[2:].strip()}"]
        elif text:
            if out and out[-1].startswith("- "):
                out.append("")
            out += [text, ""]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n"
    return title, body


def table_fix(body: str) -> str:
    """001's comparison table arrived flattened; restore its cells (same words) as a Markdown table."""
    rows = [
        ("Treatment", "Mechanism of Action", "Potential Benefits", "Potential Side Effects"),
        ("LDN", "Endorphin modulation, immune system modulation",
         "Pain relief, improved sleep, decreased fatigue", "Insomnia, vivid dreams, headaches, nausea"),
        ("Antidepressants", "Neurotransmitter regulation (serotonin, norepinephrine)",
         "Pain relief, improved mood, sleep", "Nausea, weight gain, sexual dysfunction"),
        ("Pain Medications", "Blocking pain signals", "Temporary pain relief",
         "Nausea, constipation, drowsiness, addiction (opioids)"),
        ("Physical Therapy", "Improving muscle strength, flexibility, and range of motion",
         "Pain relief, improved function", "Muscle soreness, fatigue"),
    ]
    for i, cells in enumerate(rows):
        flat = " ".join(cells)
        assert flat in body, flat
        table_row = "| " + " | ".join(cells) + " |"
        if i == 0:
            table_row += "\n|---|---|---|---|"
        body = body.replace(flat + "\n\n", table_row + "\n", 1) if i < len(rows) - 1 else body.replace(flat, table_row, 1)
    return body


def front_matter(fields: dict) -> str:
    return "---\n" + "".join(f"{k}: {json.dumps(v, ensure_ascii=False)}\n" for k, v in fields.items()) + "---\n\n"


def main(src: Path, dst: Path) -> None:
    for name, spec in WEB.items():
        raw = (src / "web" / name).read_text(encoding="utf-8")
        title, body = convert(raw, spec)
        if name.startswith("001"):
            body = table_fix(body)
        fields = {"id": spec["id"], "title": title, "kind": "web-article", "publisher": spec["publisher"],
                  "evidence": "web article", "source_file": name}
        if BIO in raw:
            fields["byline"] = raw[raw.index(BIO):].strip()
        (dst / "web" / f"{spec['id']}.md").write_text(front_matter(fields) + body, encoding="utf-8")
    for path in sorted((src / "studies").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        head, body = text.split("\n---\n", 1)
        head = head.replace("\ntitle:", '\nkind: "study-summary"\ntitle:', 1)
        head += f'\nsource_file: "{path.name}"'
        (dst / "studies" / path.name).write_text(head + "\n---\n" + body, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
