"""The shipped mappings carry the whole support guide; broken variants fail with precise messages."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from mappings import DEFAULT_DIR, MappingError, load_mappings
from mappings import validate_command as _validate  # the click command itself

GUIDE = Path(__file__).resolve().parents[2] / "shared" / "seed" / "mediaocean-cx-support-guide.txt"

# The guide's taxonomy, group by group (option names as agents see them in Zendesk).
GUIDE_TYPES = {
    "Recommendation/Explanation": [
        "Action required (by client)",
        "Alternate workflow provided",
        "System functionality explained",
    ],
    "Record/Profile Setup": [
        "New record (by client)",
        "Record added/changed (by Mediaocean CX/Implementation)",
        "Record added/changed (by Account Management)",
    ],
    "Defect": ["Code fix", "Data fix/patch"],
    "Redirect": [
        "Enhancement request (managed by Account Management)",
        "Other (managed by Account Management)",
        "Existing record change (managed by Client)",
        "External system (managed by Third Party)",
    ],
    "Technical": ["Technical"],
    "Auto-solved": ["No response from user"],
    "Duplicate": ["Duplicate"],
    "Professional Services": ["On-site support", "Configuration request"],
    "Training": ["Training completed", "Training cancelled", "Utilized eLearning"],
}


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    target.mkdir()
    for name in ("statuses.toml", "resolution_types.toml", "teams.toml", "products.toml"):
        shutil.copy(DEFAULT_DIR / name, target / name)
    return target


def _edit(directory: Path, name: str, old: str, new: str, count: int = 1) -> None:
    path = directory / name
    text = path.read_text()
    assert old in text, f"fixture drift: {old!r} not in {name}"
    path.write_text(text.replace(old, new, count))


def _problems(directory: Path) -> list[str]:
    with pytest.raises(MappingError) as excinfo:
        load_mappings(directory)
    return [str(p) for p in excinfo.value.problems]


def test_every_guide_status_is_mapped_with_its_category() -> None:
    m = load_mappings()
    customer = ["Open", "Awaiting your reply", "Fixed – Pending RCA", "Solved"]
    by_customer = {c: sorted(s.category for s in m.statuses_for(c)) for c in customer}
    assert by_customer == {
        "Open": ["hold", "new", "open"],
        "Awaiting your reply": ["pending"],
        "Fixed – Pending RCA": ["hold"],
        "Solved": ["solved"],
    }
    # "Open" is two agent statuses sharing the end-user label: with CX, with product/development.
    assert {s.end_user_label for s in m.statuses_for("Open")} == {"Open"}
    assert m.category_default("hold").value == "open_product"  # type: ignore[union-attr]
    assert m.status("fixed_pending_rca").category == "hold"


def test_the_complete_resolution_taxonomy_is_present_with_definitions() -> None:
    m = load_mappings()
    found: dict[str, list[str]] = {}
    for group in m.groups:
        found[group.name] = [t.name for t in group.types]
    assert found == GUIDE_TYPES
    for rtype in m.resolution_types:
        assert len(rtype.definition) > 20, rtype
    assert len({t.value for t in m.resolution_types}) == 20


def test_definitions_keep_the_guides_wording() -> None:
    """Each definition's words come from the guide (reworded only by whitespace and hyphenation)."""
    guide = re.sub(r"\s+", " ", GUIDE.read_text(encoding="utf-8"))
    guide_words = set(re.findall(r"[a-z]+", guide.lower()))
    for rtype in load_mappings().resolution_types:
        words = set(re.findall(r"[a-z]+", rtype.definition.lower()))
        assert words <= guide_words, (rtype.name, words - guide_words)


def test_guide_flags_approval_ownership_products_and_reservation() -> None:
    m = load_mappings()
    approval = {t.name for t in m.resolution_types if t.requires_data_maintenance_approval}
    assert approval == {
        "Record added/changed (by Mediaocean CX/Implementation)",
        "Record added/changed (by Account Management)",
        "Data fix/patch",
    }
    managed = {t.name: t.managed_by for t in m.resolution_types}
    assert managed["Enhancement request (managed by Account Management)"] == "account_management"
    assert managed["Existing record change (managed by Client)"] == "client"
    assert managed["External system (managed by Third Party)"] == "third_party"
    limited = {t.name: t.products for t in m.resolution_types if t.products}
    assert limited == {"Configuration request": ("lumina",)}
    reserved = {t.option_name for t in m.resolution_types if t.reserved_for}
    assert reserved == {"Auto-solved::No response from user"}


def test_team_hours_follow_the_guide() -> None:
    m = load_mappings()
    hours = {t.name: (t.start.hour, t.end.hour, t.days) for t in m.teams if t.support}
    weekdays = ("mon", "tue", "wed", "thu", "fri")
    assert hours == {
        "All Media": (9, 19, weekdays),
        "Prod": (9, 19, weekdays),
        "Tech": (9, 19, weekdays),
        "Finance": (9, 17, weekdays),
        "Canadian Spot": (9, 17, weekdays),
    }
    assert m.team("canadian_spot").holiday_country == "CA"
    assert m.team("finance").holiday_country == "US"
    assert m.team_for_group("no such group").key == m.default_team == "all_media"


def test_validate_command_prints_ok_for_shipped_files() -> None:
    result = CliRunner().invoke(_validate, [])
    assert result.exit_code == 0
    assert result.output == "OK\n"


BROKEN = [
    pytest.param(
        "statuses.toml",
        'agent_label = "New"',
        'agent_label = "New"\ncolour = "blue"',
        r"statuses\.toml: status \"new\" › colour \(line 17\): Unknown field\.",
        id="unknown-key",
    ),
    pytest.param(
        "resolution_types.toml",
        'definition = "A deployment of new code to the Mediaocean platform to mitigate the reported issue."\n',
        "",
        r"resolution_types\.toml: group \"Defect\" › type \"Code fix\" › definition \(line \d+\): Missing data for required field\.",
        id="missing-required-field",
    ),
    pytest.param(
        "resolution_types.toml",
        'value = "mo_res_data_fix_patch"',
        'value = "mo_res_code_fix"',
        r"resolution_types\.toml: group \"Defect\" › type \"[^\"]+\" › value \(line \d+\): duplicate machine value 'mo_res_code_fix'",
        id="duplicate-machine-value",
    ),
    pytest.param(
        "resolution_types.toml",
        'assign_team = "account_management"',
        'assign_team = "acount_management"',
        r"resolution_types\.toml: group \"Redirect\" › type \"Enhancement request \(managed by Account Management\)\" › assign_team \(line \d+\): unknown team 'acount_management'",
        id="unknown-team",
    ),
    pytest.param(
        "resolution_types.toml",
        'products = ["lumina"]',
        'products = ["lumnia"]',
        r"resolution_types\.toml: group \"Professional Services\" › type \"Configuration request\" › products\[0\] \(line \d+\): unknown product 'lumnia'",
        id="unknown-product",
    ),
    pytest.param(
        "teams.toml",
        'hours = "09:00-17:00"',
        'hours = "17:00-09:00"',
        r"teams\.toml: team \"Finance\" › hours \(line \d+\): hours '17:00-09:00' end before they start",
        id="bad-time-range",
    ),
    pytest.param(
        "teams.toml",
        'hours = "09:00-19:00"',
        'hours = "9am to 7pm"',
        r"teams\.toml: team \"All Media\" › hours \(line \d+\): hours must look like '09:00-17:00'",
        id="unparseable-hours",
    ),
    pytest.param(
        "teams.toml",
        'timezone = "America/Toronto"',
        'timezone = "America/Torontoo"',
        r"teams\.toml: team \"Canadian Spot\" › timezone \(line \d+\): unknown time zone 'America/Torontoo'",
        id="unknown-time-zone",
    ),
    pytest.param(
        "statuses.toml",
        'category = "hold"\ncategory_default = false',
        'category = "onhold"\ncategory_default = false',
        r"statuses\.toml: status \"fixed_pending_rca\" › category \(line \d+\): Must be one of: new, open, pending, hold, solved\.",
        id="unknown-category",
    ),
    pytest.param(
        "products.toml",
        'name = "Lumina"',
        'name = "Lumina',
        r"products\.toml \(line 9\): malformed TOML: ",
        id="malformed-toml",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), BROKEN)
def test_broken_mapping_is_refused_with_file_key_path_and_line(
    tmp_path: Path, file: str, old: str, new: str, expected: str
) -> None:
    directory = _copy(tmp_path)
    _edit(directory, file, old, new)
    problems = _problems(directory)
    assert any(re.search(expected, p) for p in problems), problems
    result = CliRunner().invoke(_validate, [str(directory)])
    assert result.exit_code == 1
    assert re.search(expected, result.output), result.output
    assert "OK" not in result.output


def test_unknown_key_reports_the_exact_line(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit(
        directory, "teams.toml", 'zendesk_group = "Finance"', 'zendesk_group = "Finance"\nshift = 2'
    )
    lines = (directory / "teams.toml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("shift"))
    assert f'teams.toml: team "Finance" › shift (line {line}): Unknown field.' in "\n".join(
        _problems(directory)
    )


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit(directory, "teams.toml", 'timezone = "America/Toronto"', 'timezone = "Mars/Olympus"')
    _edit(directory, "statuses.toml", 'agent_label = "New"', 'agent_label = ""')
    problems = _problems(directory)
    assert len(problems) == 2, problems


def test_cross_file_problems_are_reported_with_the_basic_ones_in_one_pass(tmp_path: Path) -> None:
    """A bad time zone (basic) and an unknown team reference (cross-file) in the same run."""
    directory = _copy(tmp_path)
    _edit(directory, "teams.toml", 'timezone = "America/Toronto"', 'timezone = "Mars/Olympus"')
    _edit(directory, "products.toml", 'team = "finance"', 'team = "treasury"')
    problems = _problems(directory)
    assert len(problems) == 2, problems
    assert any("unknown time zone 'Mars/Olympus'" in p for p in problems)
    assert any('product "Finance" › team' in p and "'treasury'" in p for p in problems)


def test_a_guide_status_without_mapping_is_refused(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    _edit(
        directory,
        "statuses.toml",
        'customer_status = "Fixed – Pending RCA"',
        'customer_status = "Open"',
    )
    assert any("have no mapping" in p and "Fixed – Pending RCA" in p for p in _problems(directory))


def test_invalid_mappings_stop_the_wsgi_app_with_the_reasons(
    tmp_path: Path, make_app: object
) -> None:
    directory = _copy(tmp_path)
    _edit(directory, "products.toml", 'team = "finance"', 'team = "treasury"')
    with pytest.raises(MappingError, match=r"product \"Finance\" › team .*unknown team 'treasury'"):
        make_app(MAPPINGS_DIR=str(directory))  # type: ignore[operator]
