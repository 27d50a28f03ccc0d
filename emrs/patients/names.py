"""Name keys for typo- and transliteration-tolerant search.

Punjabi and Hindi names are written in Latin letters many ways: Mohinder /
Mahinder / Mohindar, Kaur / Kour, Sandhu / Sandhoo, Sharma / Shrma. The key
keeps the consonant skeleton of each word (vowels dropped after the first
letter, doubled letters collapsed, common digraph spellings folded), so those
variants share one key; trigram similarity on the key then also forgives a
dropped or swapped consonant. The key is stored in ``registered_patient.name_key``
and indexed; the service computes it on every write.

Names written in Devanagari or Gurmukhi ("राजेश कुमार शर्मा", "ਹਰਜੀਤ ਸਿੰਘ ਢਿੱਲੋਂ")
are kept as typed, and each of their words is also spelt in Latin letters the
way such names usually are ("rajesh kumar sharma", "harjit singh dhillon"):
the library ``indic-transliteration`` (sanscript) turns the word into ITRANS,
after the word's silent inherent vowels (the Hindi/Punjabi schwa) have been
marked silent with a virama; a few rules then write ITRANS as a name is spelt
(anusvara/tippi/bindi as n or m, ड़/ੜ as r, no case distinctions). That Latin
spelling gets the same key as a Latin name, so "Harjeet", "Harjit", "ਹਰਜੀਤ" and
"हरजीत" all have the key "hrjt" and find one another.
"""
from __future__ import annotations

import functools
import re
import unicodedata

from indic_transliteration import sanscript

_FOLDS = [  # applied in order to each lower-case word
    ("ph", "f"), ("bh", "b"), ("dh", "d"), ("th", "t"), ("kh", "k"), ("gh", "g"), ("jh", "j"),
    ("ch", "c"), ("sh", "s"), ("w", "v"), ("z", "j"), ("q", "k"), ("x", "ks"), ("ck", "k"),
    ("y", "i"),
]
_VOWELS = set("aeiou")

# Letters and signs of the Devanagari and Gurmukhi blocks (not their digits, dandas or
# the abbreviation sign): the characters of a native word.
_INDIC = "\u0900-\u0963\u0971-\u097F\u0A00-\u0A65\u0A70-\u0A73\u0A75-\u0A7F"
_INDIC_RUN = re.compile(f"([{_INDIC}]+)")
_INDIC_CHAR = re.compile(f"[{_INDIC}]")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def is_indic(word: str) -> bool:
    return bool(word) and bool(_INDIC_CHAR.match(word))


def has_letters(text: str) -> bool:
    """Whether the text has a Latin, Devanagari or Gurmukhi letter (something a name is made of)."""
    return bool(re.search(r"[A-Za-z]", text or "") or _INDIC_CHAR.search(text or ""))


def words(text: str) -> list[str]:
    """The words of a name: Latin words lower-case with accents dropped ('José' -> 'jose');
    Devanagari and Gurmukhi words as typed (Unicode NFC)."""
    text = unicodedata.normalize("NFC", (text or "").replace("\u200c", "").replace("\u200d", ""))
    out: list[str] = []
    for part in _INDIC_RUN.split(text):
        if not part:
            continue
        if is_indic(part):
            out.append(part)
        else:
            out += [w for w in re.split(r"[^a-z0-9]+", _ascii(part).lower()) if w]
    return out


# ----------------------------------------------------------------------- transliteration

def _kind(ch: str) -> str:
    """What a Devanagari/Gurmukhi character is, from its Unicode name: consonant 'C',
    independent vowel 'V', vowel sign 'S', virama 'H', nukta 'N', addak 'D', else 'M' (a sign
    after the vowel: anusvara, bindi, tippi, candrabindu, visarga)."""
    name = unicodedata.name(ch, "")
    if " VOWEL SIGN " in name:
        return "S"
    if name.endswith("SIGN VIRAMA"):
        return "H"
    if name.endswith("SIGN NUKTA"):
        return "N"
    if name.endswith("ADDAK"):
        return "D"
    if " LETTER " in name:
        letter = name.split(" LETTER ", 1)[1]
        if letter in _VOWEL_LETTERS or letter.startswith(("VOCALIC ", "CANDRA ", "SHORT ")):
            return "V"
        return "C"
    return "M"


_VOWEL_LETTERS = {"A", "AA", "I", "II", "U", "UU", "E", "EE", "AI", "O", "OO", "AU", "AW", "UE", "UUE", "OE", "OOE"}


def _silent_schwas(word: str) -> str:
    """The word with a virama after each consonant whose inherent 'a' is not spoken
    (Hindi/Punjabi schwa deletion): the last one of a word ('राम' ram), and one between a
    spoken vowel and a consonant with a spoken vowel ('हरजीत' harjit, 'अमनदीप' amandip),
    never after a conjunct ('चन्द्र' chandra) or before a nasal sign ('संधू' sandhu)."""
    virama = chr((ord(word[0]) & ~0x7F) | 0x4D)  # U+094D or U+0A4D
    units: list[dict] = []  # syllables: consonants (count), vowel ('a' inherent, 'v' other, '' none)
    joined = False
    for ch in word:
        kind = _kind(ch)
        if kind == "C":
            if joined and units:
                units[-1]["text"] += ch
                units[-1]["cons"] += 1
            else:
                units.append({"text": ch, "cons": 1, "vowel": "a", "mods": ""})
            joined = False
        elif kind == "D":
            units.append({"text": ch, "cons": 0, "vowel": "a", "mods": ""})
            joined = True
        elif kind == "H" and units:
            units[-1]["text"] += ch
            units[-1]["vowel"] = ""
            joined = True
        elif kind == "S" and units:
            units[-1]["text"] += ch
            units[-1]["vowel"] = "v"
            joined = False
        elif kind == "V":
            units.append({"text": ch, "cons": 0, "vowel": "v", "mods": ""})
            joined = False
        elif units:
            units[-1]["text" if kind == "N" else "mods"] += ch
            joined = False
        else:
            units.append({"text": ch, "cons": 0, "vowel": "", "mods": ""})
    silent = set()
    n = len(units)

    def plain_schwa(u):
        return u["vowel"] == "a" and u["cons"] == 1 and not u["mods"]

    if n >= 2 and plain_schwa(units[-1]):
        silent.add(n - 1)
    for i in range(n - 2, 0, -1):
        if (plain_schwa(units[i]) and units[i - 1]["vowel"] and (i - 1) not in silent
                and units[i + 1]["cons"] and units[i + 1]["vowel"] and (i + 1) not in silent):
            silent.add(i)
    return "".join(u["text"] + (virama if i in silent else "") + u["mods"] for i, u in enumerate(units))


_NUKTA = re.compile("(?<![\u0921\u0922])[\u093C\u0A3C]")  # kept only in ड़ ढ़ (flapped r)


def _itrans_as_name(s: str) -> str:
    """ITRANS as a name is usually spelt in Latin letters, lower-case a–z."""
    s = s.replace(".Dh", "rh").replace(".D", "r")  # ड़ ढ़ ੜ: Chhabra, Brar
    s = s.replace("RRi", "ri").replace("RRI", "ri").replace("LLi", "li").replace("LLI", "li")
    s = s.replace("j~n", "gy")  # ज्ञ: Gyan
    s = re.sub(r"M(?=[pbm])", "m", s)  # anusvara before a labial: Ambika, Champa
    s = re.sub(r"M(?=h)", "ng", s)  # सिंह: Singh
    s = s.replace("M", "n").replace(".N", "n")
    return re.sub(r"[^a-z]", "", s.lower())


@functools.lru_cache(maxsize=65536)
def latin(word: str) -> str:
    """A Devanagari or Gurmukhi word spelt in Latin letters ('ਢਿੱਲੋਂ' -> 'dhillon',
    'शर्मा' -> 'sharma'); any other word is returned unchanged."""
    if not is_indic(word):
        return word
    word = _NUKTA.sub("", unicodedata.normalize("NFD", word))
    if not word:
        return ""
    scheme = sanscript.GURMUKHI if "\u0A00" <= word[0] <= "\u0A7F" else sanscript.DEVANAGARI
    return _itrans_as_name(sanscript.transliterate(_silent_schwas(word), scheme, sanscript.ITRANS))


def word_key(word: str) -> str:
    w = latin(word)
    for a, b in _FOLDS:
        w = w.replace(a, b)
    if not w:
        return ""
    head, tail = w[0], "".join(c for c in w[1:] if c not in _VOWELS and c != "h")
    out = head
    for c in tail:
        if c != out[-1]:
            out += c
    return out


def name_key(name: str) -> str:
    """'Mohinder Singh Sandhoo' -> 'mndr sng snd'; 'ਹਰਜੀਤ ਸਿੰਘ ਢਿੱਲੋਂ' -> 'hrjt sng dln'."""
    return " ".join(k for k in (word_key(w) for w in words(name)) if k)


def normalise_name(name: str) -> str:
    """Trimmed, single-spaced, Unicode NFC; the spelling the staff typed is kept."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", (name or "").strip()))


def _prefixes(w: str) -> list[str]:
    return [w[:i] for i in range(2, len(w) + 1)] if len(w) > 1 else [w]


def name_tokens(name: str) -> list[str]:
    """What the word index of a patient holds: every prefix (2+ letters) of every
    lower-case word — so as-you-type "gurpr" finds Gurpreet — and, marked with '~',
    each word's key: 'Ram Singh' -> ['ra', 'ram', 'si', 'sin', 'sing', 'singh', '~rm', '~sng'].
    A Devanagari or Gurmukhi word adds the prefixes of the word as typed and of its Latin
    spelling: 'राम' -> ['रा', 'राम', 'ra', 'ram', '~rm']."""
    ws = words(name)
    prefixes = [p for w in ws for p in _prefixes(w)]
    prefixes += [p for w in ws if is_indic(w) and latin(w) for p in _prefixes(latin(w))]
    keys = ["~" + k for k in (word_key(w) for w in ws) if k]
    return list(dict.fromkeys(prefixes + keys))
