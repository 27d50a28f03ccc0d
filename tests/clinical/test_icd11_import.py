"""`flask icd11 import`: WHO's ICD-11 MMS release file (LinearizationMiniOutput-MMS-en.txt) into the
tree — the format (tabs, quoted fields with doubled quotes, "- " level markers, short lines, a byte
order mark), parents, residual categories, chapter filtering, idempotency per release, local
additions kept, older releases superseded, and a clear refusal of anything else.

The fixture (tests/clinical/data, see its README) holds only the chapter 06 row, a test block, the
15 hand-checked chapter 06 stems and two rows marked as test data; the residual and format cases
below build their own rows, marked as test data, or use the rows quoted from WHO's file in the
issue."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from emrs.audit.models import AuditLog
from emrs.clinical import icd, icd11
from emrs.clinical import icd11_import as importer
from emrs.clinical.models import Icd11Entity
from emrs.extensions import db

FIXTURE = Path(__file__).resolve().parent / "data" / "LinearizationMiniOutput-MMS-en.fixture.txt"
HEADER = ("Foundation URI\tLinearization (release) URI\tCode\tBlockId\tTitle\tClassKind\tDepthInKind\tIsResidual\t"
          "PrimaryLocation\tChapterNo\tBrowserLink\tisLeaf\tnoOfNonResidualChildren\tPrimary tabulation\tGrouping1\t"
          "Grouping2\tGrouping3\tGrouping4\tGrouping5\tVersion:2026 Apr 15 - 14:33 UTC")
STEMS = ["6A00", "6A02", "6A05", "6A20", "6A21", "6A24", "6A60", "6A61", "6A70", "6A71", "6A72", "6B00", "6B01",
         "6B20", "6B40"]

# Rows exactly as the issue quotes them from WHO's file (chapter 01).
WHO_CHAPTER = ('http://id.who.int/icd/entity/1435254666\thttp://id.who.int/icd/release/11/beta/mms/1435254666\t\t\t'
               '"Certain infectious or parasitic diseases"\tchapter\t1\tFalse\tTrue\t01\t'
               '"=hyperlink(""https://icd.who.int/dev11/l-m/en#/http%3A%2F%2Fid.who.int%2Ficd%2Fentity%2F1435254666"",'
               '""browser"")"\tFalse\t22')
WHO_BLOCK = ('http://id.who.int/icd/entity/135352227\thttp://id.who.int/icd/release/11/beta/mms/135352227\t\t'
             'BlockL2-1A0\t"- - Bacterial intestinal infections"\tblock\t2\tFalse\tTrue\t01\t"=hyperlink(...)"\tFalse\t8'
             '\t\tBlockL1-1A0\t\t\t\t')
WHO_CATEGORY = ('http://id.who.int/icd/entity/257068234\thttp://id.who.int/icd/release/11/beta/mms/257068234\t1A00\t\t'
                '"- - - Cholera"\tcategory\t1\tFalse\tTrue\t01\t"=hyperlink(...)"\tTrue\t0\tTrue\tBlockL1-1A0\t'
                'BlockL2-1A0\t\t\t')
WHO_RESIDUAL = ('\thttp://id.who.int/icd/release/11/beta/mms/344162786/other\t1A03.Y\t\t'
                '"- - - - Intestinal infections due to other specified Escherichia coli"\tcategory\t2\tTrue\tTrue\t01\t'
                '"=hyperlink(...)"\tTrue\t0\tTrue\tBlockL1-1A0\tBlockL2-1A0\t\t\t')


def _row(code, title, kind="category", chapter="06", residual=False, leaf=True, key=None, block=""):
    """A test-data row in WHO's format (fake URIs; a residual has no foundation URI)."""
    key = key or code or block
    foundation = "" if residual else f"http://example.invalid/icd11-test/entity/{key}"
    lin = f"http://example.invalid/icd11-test/mms/{key}" + ("/other" if residual else "")
    return "\t".join([foundation, lin, code, block, f'"{title}"', kind, "1", str(residual), "True", chapter,
                      '"=hyperlink(""https://example.invalid/b"",""browser"")"', str(leaf), "0"])


def _write(tmp_path, lines, name="LinearizationMiniOutput-MMS-en.txt", bom=False, header=HEADER) -> Path:
    path = tmp_path / name
    text = "\r\n".join([header, *lines]) + "\r\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _who(release=None):
    q = select(Icd11Entity).where(Icd11Entity.source == "who")
    if release:
        q = q.where(Icd11Entity.release == release)
    return db.session.execute(q.order_by(Icd11Entity.sort_order)).scalars().all()


def _by_code(code, release=None) -> Icd11Entity:
    q = select(Icd11Entity).where(Icd11Entity.code == code)
    if release:
        q = q.where(Icd11Entity.release == release)
    return db.session.execute(q).scalar_one()


# ------------------------------------------------------------------ the format

def test_fixture_parses_with_parents_titles_and_chapter_filter():
    parsed = importer.parse(importer.read_text(FIXTURE))
    assert parsed.version == "2026 Apr 15 - 14:33 UTC"
    kept = [(r.class_kind, r.chapter_no, r.code) for r in parsed.rows]
    assert kept[0] == ("chapter", "06", None) and kept[1] == ("block", "06", None)
    assert [r.code for r in parsed.rows[2:17]] == STEMS
    assert kept[-1] == ("chapter", "07", None)
    assert parsed.skipped_chapters == {"01": 1}  # chapter 01 is not in the default chapters
    chapter, block = parsed.rows[0], parsed.rows[1]
    assert chapter.title == "Mental, behavioural or neurodevelopmental disorders" and chapter.parent is None
    assert block.title == "Test block (fixture data, not a WHO title)" and block.parent == 0
    assert block.block_id == "BlockL1-TEST" and block.level == 1
    stem = parsed.rows[10]
    assert (stem.code, stem.title, stem.parent, stem.level) == ("6A70", "Single episode depressive disorder", 1, 2)
    assert stem.foundation_uri == "http://example.invalid/icd11-fixture/entity/6A70"
    assert stem.is_leaf is False and stem.is_residual is False
    only_06 = importer.parse(importer.read_text(FIXTURE), ("06",))
    assert {r.chapter_no for r in only_06.rows} == {"06"} and only_06.skipped_chapters == {"01": 1, "07": 1}


def test_who_rows_from_the_issue_doubled_quotes_short_lines_and_residuals(tmp_path):
    path = _write(tmp_path, [WHO_CHAPTER, WHO_BLOCK, WHO_CATEGORY, WHO_RESIDUAL])
    parsed = importer.parse(importer.read_text(path), ("01",))
    chapter, block, cholera, residual = parsed.rows
    assert chapter.title == "Certain infectious or parasitic diseases" and chapter.class_kind == "chapter"
    assert chapter.foundation_uri == "http://id.who.int/icd/entity/1435254666"
    assert (block.block_id, block.title, block.level, block.parent) == ("BlockL2-1A0", "Bacterial intestinal infections",
                                                                        2, 0)
    assert (cholera.code, cholera.title, cholera.parent, cholera.is_leaf) == ("1A00", "Cholera", 1, True)
    # A residual row: no foundation URI, the linearization URI ends in /other, IsResidual True;
    # its parent is the nearest preceding row with fewer "- " markers.
    assert residual.code == "1A03.Y" and residual.is_residual is True and residual.foundation_uri is None
    assert residual.linearization_uri.endswith("/344162786/other")
    assert residual.title == "Intestinal infections due to other specified Escherichia coli"
    assert residual.level == 4 and residual.parent == 2


def test_residual_rows_load_under_their_parent(app, tmp_path):
    path = _write(tmp_path, [
        _row("", "Test chapter 01 (test data)", kind="chapter", chapter="01", key="c01"),
        _row("", "- Test block (test data)", kind="block", chapter="01", block="BlockL1-T01"),
        _row("1T00", "- - Test category (test data)", chapter="01", leaf=False),
        _row("1T00.Y", "- - - Test category, other specified (test data)", chapter="01", residual=True),
        _row("1T00.Z", "- - - Test category, unspecified (test data)", chapter="01", residual=True),
    ])
    importer.import_file(path, release="test-r1", chapters="01")
    parent = _by_code("1T00")
    other, unspecified = _by_code("1T00.Y"), _by_code("1T00.Z")
    assert other.parent_id == parent.id and unspecified.parent_id == parent.id
    assert other.is_residual and other.foundation_uri is None and not parent.is_residual
    assert [c.code for c in icd11.children(parent)] == ["1T00.Y", "1T00.Z"]


def test_byte_order_mark_and_lf_line_ends(app, tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + FIXTURE.read_bytes().replace(b"\r\n", b"\n"))
    parsed = importer.parse(importer.read_text(path))
    assert len(parsed.rows) == 18 and parsed.version == "2026 Apr 15 - 14:33 UTC"
    assert importer.parse("\ufeff" + FIXTURE.read_text(encoding="utf-8")).rows[0].chapter_no == "06"


def test_simple_tabulation_header_variant_loads(app, tmp_path):
    """WHO's SimpleTabulation file names the URI column "Linearization URI"; same rows."""
    header = HEADER.replace("Linearization (release) URI", "Linearization URI")
    path = _write(tmp_path, [_row("", "Test chapter 07 (test data)", kind="chapter", chapter="07", key="c07"),
                             _row("7T00", "- Test category (test data)", chapter="07")],
                  name="SimpleTabulation-ICD-11-MMS-en.txt", header=header)
    report = importer.import_file(path, release="test-st", chapters="07")
    assert report.per_chapter == {"07": {"chapter": 1, "category": 1}}
    assert _by_code("7T00").linearization_uri == "http://example.invalid/icd11-test/mms/7T00"


# ------------------------------------------------------------------ refusals

@pytest.mark.parametrize("content,expected", [
    (b"", "is empty"),
    (b"code,title\nF32,Depressive episode\n", "is not WHO's ICD-11 linearization file"),
    ("Foundation URI\tTitle\tClassKind\n".encode(), "missing Code, ChapterNo"),
    (b"\xff\xfeF\x00o\x00", "not UTF-8 text"),
    ((HEADER + "\r\nhttp://x\thttp://y\t6A00\r\n").encode(), "line 2: 3 column(s)"),
    ((HEADER + "\r\n" + _row("", "Test chapter 01 (test data)", kind="chapter", chapter="01", key="c") + "\r\n").encode(),
     "has no rows of chapter(s) 06, 07, 17, V (chapters found: 01)"),
    ((HEADER + "\r\n" + _row("6A00", "A") + "\r\n" + _row("6A00", "B") + "\r\n").encode(),
     "line 3: 6A00 appears twice (also on line 2)"),
])
def test_bad_files_are_refused_with_a_clear_message(tmp_path, content, expected):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(importer.ImportRefused) as exc:
        importer.import_file(path, release="2026-01")
    assert expected in str(exc.value)


def test_release_is_needed_and_checked(tmp_path):
    path = _write(tmp_path, [_row("", "Test chapter 06 (test data)", kind="chapter", key="c06")],
                  header=HEADER.rsplit("\t", 1)[0])  # no "Version:" cell
    with pytest.raises(importer.ImportRefused, match="give one, e.g. --release 2026-01"):
        importer.import_file(path)
    with pytest.raises(importer.ImportRefused, match="release '<bad>'"):
        importer.import_file(path, release="<bad>")
    with pytest.raises(importer.ImportRefused, match="--chapters takes chapter numbers"):
        importer.import_file(path, release="2026-01", chapters="06,mental")
    with pytest.raises(importer.ImportRefused, match="no such file"):
        importer.import_file(tmp_path / "missing.txt", release="2026-01")


def test_cli_refuses_a_bad_file_without_a_traceback(app, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Some notes\nnot a classification\n", encoding="utf-8")
    before = db.session.execute(select(func.count(Icd11Entity.id))).scalar_one()
    result = app.test_cli_runner().invoke(args=["icd11", "import", str(path)])
    assert result.exit_code == 1
    assert "Error: " in result.output and "is not WHO's ICD-11 linearization file" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)  # click's clean exit
    assert db.session.execute(select(func.count(Icd11Entity.id))).scalar_one() == before


# ------------------------------------------------------------------ loading

def test_cli_loads_the_release_over_the_default_stems_in_place(app, admin_local):
    seeded = {e.code: e.id for e in _who("2026-01") if e.code}
    chapter_id = _who("2026-01")[0].id
    assert set(seeded) == set(STEMS)
    result = app.test_cli_runner().invoke(args=["icd11", "import", str(FIXTURE), "--release", "2026-01"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ICD-11 MMS release 2026-01: chapters 06, 07, 17, V" in out
    assert "chapter 06:    17 entities (1 blocks, 15 categories)" in out
    assert "chapter 07:     1 entities (0 blocks, 0 categories)" in out
    assert "chapter 17:     0 entities (none in the file)" in out
    assert "2 added, 16 updated, 0 removed" in out  # the block and chapter 07 are new
    rows = _who("2026-01")
    assert {e.code: e.id for e in rows if e.code} == seeded  # same rows, same ids
    assert rows[0].id == chapter_id and rows[0].foundation_uri.endswith("/chapter-06")
    block = db.session.execute(select(Icd11Entity).where(Icd11Entity.block_id == "BlockL1-TEST")).scalar_one()
    assert block.parent_id == chapter_id and _by_code("6A70").parent_id == block.id
    assert _by_code("6A70").depth == 2 and _by_code("6A70").is_leaf is False
    # The local addition under chapter 06 stayed where it was.
    assert db.session.get(Icd11Entity, admin_local).parent_id == chapter_id
    assert [r.code for r in icd11.roots()] == [None, None] and [r.chapter_no for r in icd11.roots()] == ["06", "07"]
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "icd11_import")).scalars().all()[-1]
    assert audit.details["release"] == "2026-01" and audit.details["added"] == 2


def test_import_is_idempotent_per_release(app):
    first = importer.import_file(FIXTURE, release="2026-01")
    count = db.session.execute(select(func.count(Icd11Entity.id))).scalar_one()
    again = importer.import_file(FIXTURE, release="2026-01")
    assert (again.added, again.updated, again.removed) == (0, 18, 0)
    assert first.per_chapter == again.per_chapter
    assert db.session.execute(select(func.count(Icd11Entity.id))).scalar_one() == count


def test_rows_the_file_no_longer_has_go_and_local_children_move_up(app, tmp_path, users):
    importer.import_file(FIXTURE, release="2026-01")
    block = db.session.execute(select(Icd11Entity).where(Icd11Entity.block_id == "BlockL1-TEST")).scalar_one()
    local = icd11.add_local(_by_code("6A72").id, "Local subtype (test data)", None, users["admin"])
    # The next file of the same release has no 6A72 any more.
    lines = [line for line in FIXTURE.read_text(encoding="utf-8").splitlines()[1:] if "\t6A72\t" not in line]
    report = importer.import_file(_write(tmp_path, lines), release="2026-01")
    assert report.removed == 1 and report.moved_local == 1
    assert db.session.execute(select(Icd11Entity).where(Icd11Entity.code == "6A72")).first() is None
    assert db.session.get(Icd11Entity, local.id).parent_id == block.id


def test_a_new_release_supersedes_the_old_one_and_local_additions_follow(app, users):
    old_6a70 = _by_code("6A70", "2026-01")
    local = icd11.add_local(old_6a70.id, "Local subtype (test data)", "6A70.L1", users["admin"])
    report = importer.import_file(FIXTURE)  # the release named by the file's header
    release = "2026 Apr 15 - 14:33 UTC"
    assert report.release == release and report.superseded == 16
    assert not db.session.get(Icd11Entity, old_6a70.id).is_active  # kept, inactive
    new_6a70 = _by_code("6A70", release)
    assert db.session.get(Icd11Entity, local.id).parent_id == new_6a70.id
    assert icd.resolve("6A70") == icd.Coded("6A70", "ICD-11", "Single episode depressive disorder", release)
    assert icd.resolve("6A70.L1").version == "local"
    assert {r["release"] for r in icd.search("6A7", system="ICD-11") if r["source"] == "who"} == {release}
    assert {r.release for r in icd11.roots()} == {release}


def test_local_code_that_who_now_uses_is_reported(app, users, tmp_path):
    icd11.add_local(icd11.roots()[0].id, "Local entry (test data)", "6T99", users["admin"])
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()[1:] + [_row("6T99", "- Test category (test data)")]
    report = importer.import_file(_write(tmp_path, lines), release="2026-01")
    assert ("6T99", "Local entry (test data)") in report.clashes
    assert any("local entry 6T99" in line for line in report.lines())
    assert icd11.lookup("6T99").source == "who"  # WHO's code wins the look-up


@pytest.fixture
def admin_local(users):
    return icd11.add_local(icd11.roots()[0].id, "Local entry under chapter 06 (test data)", None, users["admin"]).id
