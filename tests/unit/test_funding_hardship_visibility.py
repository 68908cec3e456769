"""Who sees a hardship application (issue 14): the caseworkers of its case, pure rule."""

from services.funding.domain import may_see_hardship


class TestMaySeeHardship:
    def test_the_applicant(self) -> None:
        assert may_see_hardship("caseworker", applicant="caseworker", case_caseworker="caseworker2")

    def test_the_caseworker_the_case_belongs_to_now(self) -> None:
        assert may_see_hardship("caseworker2", applicant="caseworker", case_caseworker="caseworker2")

    def test_nobody_else(self) -> None:
        assert not may_see_hardship("caseworker3", applicant="caseworker", case_caseworker="caseworker2")

    def test_not_when_the_case_is_unknown(self) -> None:
        assert not may_see_hardship("caseworker3", applicant="caseworker", case_caseworker=None)
