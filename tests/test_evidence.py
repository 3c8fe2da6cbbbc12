"""Tests for the committee's manual evidence: the tester satisfaction survey and the vendor scorecard."""

from __future__ import annotations

from pathlib import Path

import pytest

from poc_harness.errors import ConfigError
from poc_harness.grading.criteria import Criterion
from poc_harness.grading.evidence import (
    CostLines,
    EvidenceError,
    SatisfactionAnswer,
    SatisfactionSurvey,
    Scorecard,
    load_satisfaction,
    load_scorecard,
)

TEMPLATES = Path(__file__).resolve().parents[1] / "fixtures" / "templates"
HEADER = "tester,role,score,comment\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def evidence_error(info: pytest.ExceptionInfo[EvidenceError]) -> str:
    message = str(info.value)
    assert message
    assert "\n" not in message
    assert "\r" not in message
    return message


def survey(*scores: int, role: str = "sales rep", satisfied_at: int = 4) -> SatisfactionSurvey:
    answers = [
        SatisfactionAnswer(tester=f"t{index}", role=role, score=score, line=index + 2)
        for index, score in enumerate(scores)
    ]
    return SatisfactionSurvey(source="memory", scale_max=5, satisfied_at=satisfied_at, answers=answers)


def example_cost(**changes: float) -> CostLines:
    values: dict[str, float | str] = {
        "currency": "IRR",
        "users": 60,
        "licence_per_user": 12_000_000,
        "deployment_migration": 450_000_000,
        "training_adoption": 120_000_000,
        "addons_custom": 80_000_000,
        "maintenance_support": 200_000_000,
        "revenue_increase": 2_500_000_000,
        "cost_reduction": 300_000_000,
    }
    values.update(changes)
    return CostLines.model_validate(values)


# --- templates ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["satisfaction.csv", "satisfaction.yaml"])
def test_satisfaction_templates_load(name: str) -> None:
    loaded = load_satisfaction(TEMPLATES / name)
    assert len(loaded.answers) == 5
    assert any(not answer.tester.isascii() for answer in loaded.answers)
    assert any(answer.tester.isascii() for answer in loaded.answers)
    # scores 5, 4, 3, 4, 5 with satisfied_at 4: four of five satisfied
    assert loaded.satisfied() == 4
    assert loaded.share_pct() == 80.0


def test_csv_and_yaml_templates_hold_the_same_answers() -> None:
    from_csv = load_satisfaction(TEMPLATES / "satisfaction.csv").answers
    from_yaml = load_satisfaction(TEMPLATES / "satisfaction.yaml").answers
    strip = [(a.tester, a.role, a.score, a.comment) for a in from_csv]
    assert strip == [(a.tester, a.role, a.score, a.comment) for a in from_yaml]
    assert [a.line for a in from_csv] == [2, 3, 4, 5, 6]


def test_scorecard_template_loads_with_all_eight_criteria() -> None:
    card = load_scorecard(TEMPLATES / "scorecard.yaml")
    assert set(card.criteria) == set(Criterion)
    assert all(item.evidence for item in card.criteria.values())
    assert card.cost is not None
    # 12,000,000 x 60 + 450,000,000 + 120,000,000 + 80,000,000 + 200,000,000
    assert card.cost.tco() == 1_570_000_000
    assert card.source == str(TEMPLATES / "scorecard.yaml")


# --- survey arithmetic ----------------------------------------------------------------------


def test_four_of_five_satisfied_is_eighty_percent() -> None:
    result = survey(5, 4, 4, 5, 3)
    assert result.satisfied() == 4
    assert result.share_pct() == 80.0


def test_share_of_an_empty_survey_is_zero() -> None:
    assert survey().share_pct() == 0.0
    assert survey().by_role() == {}


def test_share_is_not_rounded() -> None:
    # 2 satisfied of 3 = 66.666...%
    assert survey(4, 5, 1).share_pct() == pytest.approx(200 / 3)


def test_by_role_counts_satisfied_and_total() -> None:
    answers = [
        SatisfactionAnswer(tester="a", role="sales rep", score=5, line=2),
        SatisfactionAnswer(tester="b", role="support agent", score=2, line=3),
        SatisfactionAnswer(tester="c", role="sales rep", score=3, line=4),
        SatisfactionAnswer(tester="d", role="support agent", score=4, line=5),
        SatisfactionAnswer(tester="e", role="manager", score=4, line=6),
    ]
    result = SatisfactionSurvey(source="memory", scale_max=5, satisfied_at=4, answers=answers)
    assert result.by_role() == {"sales rep": (1, 2), "support agent": (1, 2), "manager": (1, 1)}


def test_threshold_is_respected(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", HEADER + "a,sales rep,3,\nb,sales rep,4,\nc,manager,5,\n")
    assert load_satisfaction(path).satisfied() == 2
    assert load_satisfaction(path, satisfied_at=3).satisfied() == 3
    assert load_satisfaction(path, satisfied_at=5).share_pct() == pytest.approx(100 / 3)


def test_scale_is_respected(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", HEADER + "a,sales rep,9,\nb,manager,7,\n")
    loaded = load_satisfaction(path, scale_max=10, satisfied_at=8)
    assert [answer.score for answer in loaded.answers] == [9, 7]
    assert loaded.share_pct() == 50.0
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    message = evidence_error(info)
    assert "line 2: score 9 is outside 1..5" in message
    assert "line 3: score 7 is outside 1..5" in message


def test_threshold_outside_the_scale_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", HEADER + "a,sales rep,3,\n")
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path, scale_max=5, satisfied_at=6)
    assert "satisfied_at 6 is outside 1..5" in evidence_error(info)


# --- CSV ------------------------------------------------------------------------------------


def test_csv_with_persian_names_roles_and_comments(tmp_path: Path) -> None:
    text = HEADER + "مریم احمدی,کارشناس فروش,5,ثبت سرنخ سریع بود\n"
    text += "علی رضایی,sales rep,۳,گزارش‌ها کند است\n"
    loaded = load_satisfaction(write(tmp_path, "نظرسنجی.csv", text))
    first, second = loaded.answers
    assert (first.tester, first.role, first.score, first.comment) == (
        "مریم احمدی",
        "کارشناس فروش",
        5,
        "ثبت سرنخ سریع بود",
    )
    assert second.score == 3  # Persian digit ۳
    assert second.comment == "گزارش‌ها کند است"  # the zero-width non-joiner survives
    assert loaded.by_role() == {"کارشناس فروش": (1, 1), "sales rep": (0, 1)}


def test_csv_with_a_byte_order_mark_and_windows_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufefftester,role,score,comment\r\nسارا,manager,4,ok\r\n".encode())
    (answer,) = load_satisfaction(path).answers
    assert (answer.tester, answer.role, answer.line) == ("سارا", "manager", 2)


def test_csv_without_comment_column_and_tidied_cells(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "Tester, Role ,SCORE\n  Ali   Rezaei , sales rep , 4 \n")
    (answer,) = load_satisfaction(path).answers
    assert (answer.tester, answer.role, answer.score, answer.comment) == ("Ali Rezaei", "sales rep", 4, "")


def test_csv_line_numbers_count_blank_lines_and_multi_line_comments(tmp_path: Path) -> None:
    text = HEADER + 'a,sales rep,4,"first line\nsecond line"\n\nb,manager,5,\n'
    loaded = load_satisfaction(write(tmp_path, "s.csv", text))
    assert [answer.line for answer in loaded.answers] == [2, 5]
    assert loaded.answers[0].comment == "first line second line"


def test_every_kind_of_bad_csv_row_is_listed_in_one_line(tmp_path: Path) -> None:
    text = HEADER + (
        "good,sales rep,4,\n"  # line 2
        ",sales rep,4,\n"  # line 3: tester empty
        "b,,4,\n"  # line 4: role empty
        "c,manager,four,\n"  # line 5: not an integer
        "d,manager,4.5,\n"  # line 6: not an integer
        "e,manager,0,\n"  # line 7: outside the scale
        "f,manager,6,\n"  # line 8: outside the scale
        "g,manager,,\n"  # line 9: score empty
        "GOOD,manager,5,\n"  # line 10: duplicate of line 2
        "h,manager,4,too,many\n"  # line 11: an unquoted comma
    )
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(write(tmp_path, "satisfaction.csv", text))
    message = evidence_error(info)
    assert message.startswith(f"{tmp_path / 'satisfaction.csv'}: line 3: tester is empty; ")
    expected = [
        "line 3: tester is empty",
        "line 4: role is empty",
        "line 5: score 'four' is not an integer",
        "line 6: score '4.5' is not an integer",
        "line 7: score 0 is outside 1..5",
        "line 8: score 6 is outside 1..5",
        "line 9: score is empty",
        "line 10: tester 'GOOD' already answered on line 2",
        "line 11: 5 values but the header has 4 columns",
    ]
    positions = [message.index(problem) for problem in expected]
    assert positions == sorted(positions)
    assert "line 2:" not in message
    assert message.count("; ") == len(expected) - 1


def test_duplicate_tester_spelt_with_arabic_letters_is_caught(tmp_path: Path) -> None:
    # Arabic yeh and kaf (ي ك) typed on another keyboard are the same person as Persian ی ک
    text = HEADER + "علی کریمی,sales rep,4,\nعلي كريمي,sales rep,5,\n"
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(write(tmp_path, "s.csv", text))
    assert "line 3: tester 'علي كريمي' already answered on line 2" in evidence_error(info)


def test_unknown_and_missing_columns_are_named_at_line_one(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "tester,role,scroe\na,sales rep,4\n")
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    message = evidence_error(info)
    assert "line 1: missing column 'score'" in message
    assert "line 1: unknown column 'scroe'" in message


def test_unknown_column_is_reported_with_the_row_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "tester,role,score,team\na,sales rep,9,north\n")
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    message = evidence_error(info)
    assert "line 1: unknown column 'team'" in message
    assert "line 2: score 9 is outside 1..5" in message


def test_unclosed_quote_is_reported_as_bad_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", HEADER + 'a,sales rep,4,"never closed\n')
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    assert "not valid CSV" in evidence_error(info)


@pytest.mark.parametrize("text", ["", HEADER, HEADER + "\n\n,,,\n"])
def test_csv_without_answers_is_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "s.csv", text)
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    message = evidence_error(info)
    assert message.startswith(f"{path}: no answers")


# --- YAML -----------------------------------------------------------------------------------

YAML_SURVEY = """\
# survey of week 2
answers:
  - tester: مریم احمدی
    role: sales rep
    score: 5
  - {tester: Ali Rezaei, role: manager, score: 2, comment: "slow reports"}

  - tester: Neda
    role: support agent
    score: "4"
"""


def test_yaml_mapping_form_with_line_numbers(tmp_path: Path) -> None:
    loaded = load_satisfaction(write(tmp_path, "s.yaml", YAML_SURVEY))
    assert [answer.line for answer in loaded.answers] == [3, 6, 8]
    assert [answer.score for answer in loaded.answers] == [5, 2, 4]
    assert loaded.answers[1].comment == "slow reports"
    assert loaded.share_pct() == pytest.approx(200 / 3)


def test_yaml_list_form_and_yml_suffix(tmp_path: Path) -> None:
    text = "- tester: a\n  role: sales rep\n  score: 4\n- tester: b\n  role: manager\n  score: 1\n"
    loaded = load_satisfaction(write(tmp_path, "s.yml", text))
    assert [answer.line for answer in loaded.answers] == [1, 4]
    assert loaded.by_role() == {"sales rep": (1, 1), "manager": (0, 1)}


def test_bad_yaml_items_are_rejected_with_the_item_line(tmp_path: Path) -> None:
    text = (
        "answers:\n"
        "  - tester: a\n"  # line 2: fine
        "    role: sales rep\n"
        "    score: 4\n"
        "  - tester: b\n"  # line 5: outside the scale, unknown key
        "    role: manager\n"
        "    score: 7\n"
        "    team: north\n"
        "  - tester: ''\n"  # line 9: tester empty, role missing, score a float
        "    score: 3.5\n"
        "  - tester: c\n"  # line 11: boolean score, role not text
        "    role: [x]\n"
        "    score: true\n"
        "  - just text\n"  # line 14: not a mapping
        "  - {tester: A, role: manager, score: 5}\n"  # line 15: duplicate of line 2
    )
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(write(tmp_path, "s.yaml", text))
    message = evidence_error(info)
    for problem in [
        "line 5: unknown key 'team'",
        "line 5: score 7 is outside 1..5",
        "line 9: tester is empty",
        "line 9: role is missing",
        "line 9: score 3.5 is not an integer",
        "line 11: role must be text",
        "line 11: score True is not an integer",
        "line 14: expected a mapping",
        "line 15: tester 'A' already answered on line 2",
    ]:
        assert problem in message
    assert "line 2:" not in message


def test_yaml_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "answer:\n  - {tester: a, role: r, score: 4}\n")
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    assert "line 1: unknown key 'answer' (expected answers)" in evidence_error(info)


def test_yaml_key_written_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "- tester: a\n  role: r\n  score: 4\n  score: 5\n")
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    message = evidence_error(info)
    assert "'score' appears twice" in message
    assert "line 4" in message


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "answers:\n", "answers: []\n", "[]\n"])
def test_yaml_without_answers_is_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "s.yaml", text)
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    assert "no answers" in evidence_error(info)


def test_bad_yaml_syntax_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "answers: [\n  {tester: a\n")
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    message = evidence_error(info)
    assert message.startswith(f"{path}: not valid YAML")


# --- file problems --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["survey.txt", "survey.xlsx", "survey"])
def test_unknown_suffix_is_refused(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, HEADER + "a,sales rep,4,\n")
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    message = evidence_error(info)
    assert str(path) in message
    assert "unknown file type" in message


@pytest.mark.parametrize("name", ["absent.csv", "absent.yaml"])
def test_missing_survey_file_names_it(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    assert evidence_error(info) == f"{path}: file not found: check the path"


def test_missing_scorecard_names_it(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    with pytest.raises(ConfigError) as info:
        load_scorecard(path)
    assert str(info.value) == f"{path}: file not found: check the path"


def test_file_that_is_not_utf8_names_it(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(HEADER.encode() + "مرجان,sales rep,4,\n".encode("cp1256"))
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    assert evidence_error(info) == f"{path}: is not UTF-8 text: save it as UTF-8"


def test_a_directory_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "folder.csv"
    path.mkdir()
    with pytest.raises(EvidenceError) as info:
        load_satisfaction(path)
    message = evidence_error(info)
    assert message.startswith(f"{path}: cannot be read")


def test_evidence_error_is_a_config_error() -> None:
    assert issubclass(EvidenceError, ConfigError)


# --- scorecard ------------------------------------------------------------------------------

SCORECARD = """\
vendor: acme-crm
criteria:
  security: {score: 80, evidence: "SSO with Keycloak demonstrated"}
  cost: {score: 70, evidence: "quote Q-2026-114"}
cost:
  currency: IRR
  users: 60
  licence_per_user: 12000000
  deployment_migration: 450000000
  training_adoption: 120000000
  addons_custom: 80000000
  maintenance_support: 200000000
"""


def scorecard_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, "acme.yaml", text)
    with pytest.raises(EvidenceError) as info:
        load_scorecard(path)
    message = evidence_error(info)
    assert message.startswith(f"{path}: ")
    return message[len(f"{path}: ") :]


def test_scorecard_loads(tmp_path: Path) -> None:
    card = load_scorecard(write(tmp_path, "acme.yaml", SCORECARD))
    assert isinstance(card, Scorecard)
    assert card.vendor == "acme-crm"
    assert card.criteria[Criterion.SECURITY].score == 80
    assert card.criteria[Criterion.COST].evidence == "quote Q-2026-114"
    assert card.cost is not None
    assert card.cost.revenue_increase == 0
    assert card.cost.cost_reduction == 0


def test_scorecard_with_only_a_vendor(tmp_path: Path) -> None:
    card = load_scorecard(write(tmp_path, "acme.yaml", "vendor: acme-crm\n"))
    assert card.criteria == {}
    assert card.cost is None


def test_unknown_criterion_lists_the_known_ones(tmp_path: Path) -> None:
    text = SCORECARD.replace("  security:", "  securty:")
    message = scorecard_error(tmp_path, text)
    assert message.startswith(
        "criteria.securty: unknown criterion: one of security, scalability, integration, reliability, "
        "customisation, reporting, localisation, cost"
    )
    assert "(line 3)" in message


def test_score_above_100_is_refused(tmp_path: Path) -> None:
    message = scorecard_error(tmp_path, SCORECARD.replace("score: 80", "score: 101"))
    assert message.startswith("criteria.security.score: Input should be less than or equal to 100")


def test_score_without_evidence_is_refused(tmp_path: Path) -> None:
    text = SCORECARD.replace('"SSO with Keycloak demonstrated"', '"  "')
    message = scorecard_error(tmp_path, text)
    assert message.startswith("criteria.security.evidence: evidence is empty")


def test_bare_number_for_a_criterion_asks_for_evidence(tmp_path: Path) -> None:
    text = SCORECARD.replace('{score: 70, evidence: "quote Q-2026-114"}', "70")
    message = scorecard_error(tmp_path, text)
    assert message.startswith("criteria.cost: expected {score: 0-100, evidence:")


def test_zero_users_is_refused(tmp_path: Path) -> None:
    message = scorecard_error(tmp_path, SCORECARD.replace("users: 60", "users: 0"))
    assert message.startswith("cost.users: Input should be greater than or equal to 1")
    assert "(line 7)" in message


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("  users: 60\n", "  users: 60\n  user_count: 60\n", "cost.user_count"),
        ("vendor: acme-crm\n", "vendor: acme-crm\nvendr: acme\n", "vendr"),
        ('evidence: "quote Q-2026-114"', 'evidence: "quote", weight: 5', "criteria.cost.weight"),
    ],
)
def test_unknown_key_is_named_with_its_path(tmp_path: Path, old: str, new: str, key: str) -> None:
    message = scorecard_error(tmp_path, SCORECARD.replace(old, new))
    assert message.startswith(f"{key}: unknown key")


def test_every_scorecard_problem_in_one_line(tmp_path: Path) -> None:
    text = SCORECARD.replace("score: 80", "score: -1").replace("users: 60", "users: 0")
    text = text.replace("  addons_custom: 80000000\n", "")
    message = scorecard_error(tmp_path, text)
    assert "criteria.security.score: Input should be greater than or equal to 0" in message
    assert "cost.users: Input should be greater than or equal to 1" in message
    assert "cost.addons_custom: Field required" in message
    assert message.count("; ") == 2


def test_negative_amount_and_text_amount_are_refused(tmp_path: Path) -> None:
    text = SCORECARD.replace("addons_custom: 80000000", "addons_custom: -5").replace(
        "training_adoption: 120000000", 'training_adoption: "a lot"'
    )
    message = scorecard_error(tmp_path, text)
    assert "cost.addons_custom: Input should be greater than or equal to 0" in message
    assert "cost.training_adoption: Input should be a valid number" in message


def test_scorecard_that_is_not_a_mapping(tmp_path: Path) -> None:
    assert scorecard_error(tmp_path, "- acme\n").startswith("expected a mapping")
    assert scorecard_error(tmp_path, "").startswith("is empty")


def test_scorecard_cannot_set_its_source(tmp_path: Path) -> None:
    assert scorecard_error(tmp_path, SCORECARD + "source: elsewhere\n").startswith("source: unknown key")


def test_scorecard_with_bad_yaml_names_the_file(tmp_path: Path) -> None:
    assert scorecard_error(tmp_path, "vendor: [acme\n").startswith("not valid YAML")


def test_scorecard_criterion_written_twice_is_refused(tmp_path: Path) -> None:
    text = SCORECARD.replace("  cost: {score: 70", "  security: {score: 70")
    message = scorecard_error(tmp_path, text)
    assert "'security' appears twice" in message
    assert "line 4" in message


# --- money ----------------------------------------------------------------------------------


def test_tco_and_breakdown_by_hand() -> None:
    cost = example_cost()
    # licences 12,000,000 x 60 = 720,000,000
    # TCO = 720,000,000 + 450,000,000 + 120,000,000 + 80,000,000 + 200,000,000 = 1,570,000,000
    assert cost.breakdown() == {
        "licences": 720_000_000,
        "deployment_migration": 450_000_000,
        "training_adoption": 120_000_000,
        "addons_custom": 80_000_000,
        "maintenance_support": 200_000_000,
    }
    assert cost.tco() == 1_570_000_000


def test_roi_by_hand() -> None:
    # (2,500,000,000 + 300,000,000 - 1,570,000,000) / 1,570,000,000 x 100
    # = 1,230,000,000 / 1,570,000,000 x 100 = 78.3439...
    assert example_cost().roi_pct() == pytest.approx(78.34394904458599)


def test_negative_roi_by_hand() -> None:
    # TCO = 10 x 2 + 30 + 0 + 0 + 0 = 50; ROI = (10 + 5 - 50) / 50 x 100 = -70
    cost = example_cost(
        users=2,
        licence_per_user=10,
        deployment_migration=30,
        training_adoption=0,
        addons_custom=0,
        maintenance_support=0,
        revenue_increase=10,
        cost_reduction=5,
    )
    assert cost.tco() == 50
    assert cost.roi_pct() == pytest.approx(-70.0)


def test_roi_is_none_when_tco_is_zero() -> None:
    cost = example_cost(
        licence_per_user=0,
        deployment_migration=0,
        training_adoption=0,
        addons_custom=0,
        maintenance_support=0,
    )
    assert cost.tco() == 0
    assert cost.roi_pct() is None
