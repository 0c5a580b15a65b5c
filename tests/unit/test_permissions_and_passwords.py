import pytest

from tracker.domain.enums import Role
from tracker.domain.passwords import MAX_LENGTH, password_problem
from tracker.domain.permissions import Action, allowed, hides_existence

A = Action


@pytest.mark.parametrize(
    ("role", "leads", "expected"),
    [
        (Role.ADMIN, False, {A.VIEW, A.EDIT, A.SUBMIT, A.REVIEW}),
        (Role.LEAD, True, {A.VIEW, A.EDIT, A.SUBMIT}),
        (Role.LEAD, False, set()),
        (Role.BOARD, False, {A.VIEW}),
        (None, False, set()),
    ],
)
def test_the_permission_matrix(role, leads, expected):
    assert {action for action in Action if allowed(role, action, leads_organisation=leads)} == (
        expected
    )


def test_only_another_organisations_lead_is_told_not_found():
    assert hides_existence(Role.LEAD, leads_organisation=False)
    assert not hides_existence(Role.LEAD, leads_organisation=True)
    assert not hides_existence(Role.BOARD, leads_organisation=False)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "8 characters or more"),
        ("password1", "too common"),
        ("qwertyuiop", "too common"),
        ("x" * (MAX_LENGTH + 1), f"{MAX_LENGTH} characters or fewer"),
    ],
)
def test_weak_passwords_are_refused(password, problem):
    assert problem in password_problem(password)


@pytest.mark.parametrize(
    "password",
    ["correct horse battery", "blue kettle on the hill", "Ünïcödé pässwörd ok", "a" * 20 + "Zq9!"],
)
def test_reasonable_passwords_pass_without_composition_rules(password):
    assert password_problem(password) is None


def test_the_persons_own_name_is_guessable():
    assert password_problem("margaret1", user_inputs=("Margaret Jones", "margaret@example.org"))
