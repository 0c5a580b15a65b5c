"""Signing in and out, the second factor, invitations, password resets and password changes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from tracker.auth.access import before_second_factor, public, second_factor_pending, signed_in
from tracker.auth.devices import recognised_device, remember_device
from tracker.auth.forms import (
    AcceptInvitationForm,
    ChangePasswordForm,
    ManageSecondFactorForm,
    RequestResetForm,
    ResetPasswordForm,
    SecondFactorForm,
    SetUpSecondFactorForm,
    SignInForm,
)
from tracker.domain.enums import Role
from tracker.extensions import db
from tracker.models import TokenPurpose
from tracker.services import accounts
from tracker.services import two_factor as second_factor

bp = Blueprint("auth", __name__)


def now() -> datetime:
    return datetime.now(UTC)


def safe_next(target: str | None) -> str | None:
    """A ``next=`` address only if it stays on this site (a path, not another host)."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def start_session(user: accounts.User) -> None:
    """A fresh session for a person who just proved who they are (the password, so far)."""
    session.clear()  # nothing from before sign-in survives (session fixation)
    login_user(user)
    session["signed_in_at"] = now().timestamp()
    session["last_seen"] = now().timestamp()
    # Passed only once a code is checked in this session (see access.second_factor_pending).
    session["second_factor"] = False


def client_address() -> str:
    """Who is asking: the peer's address, or the one ``TRUSTED_PROXIES`` proxies vouch for."""
    return request.remote_addr or "-"


def wait_words(wait: timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def too_many(response: Response, wait: timedelta) -> Response:
    """A 429 that says when to come back (RFC 9110 Retry-After, in whole seconds)."""
    response.status_code = 429
    response.headers["Retry-After"] = str(max(1, math.ceil(wait.total_seconds())))
    return response


def signed_in_response(user: accounts.User, target: str | None) -> Response:
    """Where a person goes once their password is right: the second factor, or their page."""
    if second_factor.needs_second_factor(user):
        return redirect(
            url_for("auth.two_factor", next=target) if target else url_for("auth.two_factor")
        )
    return remember_device(redirect(target or home_for(user)), user)


def home_for(user: accounts.User) -> str:
    """Where a person lands after signing in: the place their work is."""
    if user.role == Role.LEAD:
        return url_for("returns.mine")
    if user.role == Role.ADMIN:
        return url_for("admin.overview")
    if user.role == Role.BOARD:
        return url_for("board.latest")  # the latest summary is what a board member comes for
    return url_for("site.home")


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@before_second_factor
def sign_in() -> ResponseReturnValue:
    form = SignInForm()
    wait = None
    if form.validate_on_submit():
        result = accounts.authenticate(
            form.email.data,
            form.password.data,
            client=client_address(),
            device=recognised_device(),
            now=now(),
        )
        db.session.commit()  # the attempt counts even when sign-in fails
        if result.user is not None:
            start_session(result.user)
            return signed_in_response(result.user, safe_next(request.args.get("next")))
        wait = result.retry_after
        message = (
            f"Too many attempts to sign in. Wait {wait_words(wait)}, then try again"
            if wait is not None
            else "Enter a correct email address and password"
        )
        form.email.errors = [message]
        form.password.data = ""
    response = make_response(render_template("auth/sign_in.html", form=form))
    return too_many(response, wait) if wait is not None else response


@bp.route("/account/two-factor", methods=["GET", "POST"])
@signed_in
@before_second_factor
def two_factor() -> ResponseReturnValue:
    """Set up the second factor, enter a code to finish signing in, or manage it."""
    user = current_user._get_current_object()
    if not user.has_two_factor:
        return _set_up_second_factor(user)
    if second_factor_pending():
        return _check_second_factor(user)
    return _manage_second_factor(user)


def _check_second_factor(user: accounts.User) -> ResponseReturnValue:
    form = SecondFactorForm()
    wait = None
    if form.validate_on_submit():
        result = accounts.check_second_factor(
            user, form.code.data, client=client_address(), device=recognised_device(), now=now()
        )
        db.session.commit()  # a wrong code counts, like a wrong password
        if result.user is not None:
            session["second_factor"] = True
            target = safe_next(request.args.get("next")) or home_for(user)
            return remember_device(redirect(target), user)
        wait = result.retry_after
        form.code.errors = [
            f"Too many attempts. Wait {wait_words(wait)}, then try again"
            if wait is not None
            else "Enter the code your authenticator app shows now, or an unused recovery code"
        ]
        form.code.data = ""
    response = make_response(render_template("auth/two_factor_code.html", form=form))
    return too_many(response, wait) if wait is not None else response


def _set_up_second_factor(user: accounts.User) -> ResponseReturnValue:
    # The new secret waits in this session (a signed cookie, HttpOnly) until a code proves the
    # app has it: a page view writes nothing to the database.
    secret = session.get("totp_setup")
    if not isinstance(secret, str) or len(secret) != 32:
        secret = session["totp_setup"] = second_factor.new_secret()
    form = SetUpSecondFactorForm()
    if form.validate_on_submit():
        codes = second_factor.enable(user, secret, form.code.data, now=now())
        if codes is not None:
            db.session.commit()
            session.pop("totp_setup", None)
            session["second_factor"] = True
            target = safe_next(request.args.get("next")) or home_for(user)
            # Shown once, in this answer: only their hashes are kept.
            page = render_template("auth/recovery_codes.html", codes=codes, target=target)
            return remember_device(make_response(page), user)
        form.code.errors = ["Enter the code your authenticator app shows now"]
        form.code.data = ""
    return render_template(
        "auth/two_factor_set_up.html",
        form=form,
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        uri=second_factor.setup_uri(secret, user, current_app.config["SERVICE_NAME"]),
        required=user.role == Role.ADMIN,
    )


def _manage_second_factor(user: accounts.User) -> ResponseReturnValue:
    form = ManageSecondFactorForm()
    action = request.form.get("action")
    wait = None
    if form.validate_on_submit() and action in {"recovery-codes", "turn-off"}:
        if action == "turn-off" and user.role == Role.ADMIN:
            form.code.errors = ["Admins must keep two-factor authentication"]
        else:
            result = accounts.check_second_factor(
                user, form.code.data, client=client_address(), device=recognised_device(), now=now()
            )
            wait = result.retry_after
            if result.user is not None and action == "recovery-codes":
                codes = second_factor.new_recovery_codes(user, now=now())
                db.session.commit()
                return render_template(
                    "auth/recovery_codes.html", codes=codes, target=url_for("auth.account")
                )
            if result.user is not None:
                second_factor.disable(user)
                db.session.commit()
                flash("Two-factor authentication is off", "success")
                return redirect(url_for("auth.account"))
            db.session.commit()
            form.code.errors = [
                f"Too many attempts. Wait {wait_words(wait)}, then try again"
                if wait is not None
                else "Enter the code your authenticator app shows now"
            ]
        form.code.data = ""
    response = make_response(
        render_template(
            "auth/two_factor_manage.html",
            form=form,
            left=second_factor.recovery_codes_left(user),
            can_turn_off=user.role != Role.ADMIN,
        )
    )
    return too_many(response, wait) if wait is not None else response


@bp.post("/sign-out")
@signed_in
@before_second_factor
def sign_out() -> ResponseReturnValue:
    accounts.sign_out_everywhere(current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out", "success")
    return redirect(url_for("auth.sign_in"))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@public
@before_second_factor
def accept_invitation(token: str) -> ResponseReturnValue:
    found = accounts.find_token(token, TokenPurpose.INVITATION, now())
    if found is None:
        return render_template("auth/link_expired.html", kind="invitation"), 404
    form = AcceptInvitationForm(email=found.user.email)
    if request.method == "GET":
        form.name.data = found.user.name
    if form.validate_on_submit():
        user = accounts.accept_invitation(
            found, name=form.name.data, password=form.password.data, now=now()
        )
        if user is None:  # used a moment ago by another request, or revoked
            db.session.rollback()
            return render_template("auth/link_expired.html", kind="invitation"), 404
        db.session.commit()
        start_session(user)
        flash("Your account is ready", "success")
        return signed_in_response(user, None)
    return render_template("auth/accept_invitation.html", form=form, invitee=found.user)


@bp.route("/password-reset", methods=["GET", "POST"])
@public
@before_second_factor
def request_password_reset() -> ResponseReturnValue:
    form = RequestResetForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data, now=now())
        db.session.commit()
        # The same answer whether or not the address has an account.
        return render_template("auth/reset_sent.html", email=form.email.data)
    return render_template("auth/request_reset.html", form=form)


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
@public
@before_second_factor
def reset_password(token: str) -> ResponseReturnValue:
    found = accounts.find_token(token, TokenPurpose.PASSWORD_RESET, now())
    if found is None:
        return render_template("auth/link_expired.html", kind="password reset"), 404
    form = ResetPasswordForm(user_inputs=(found.user.name, found.user.email))
    if form.validate_on_submit():
        user = accounts.reset_password(found, form.password.data, now=now())
        if user is None:  # used a moment ago by another request, or revoked
            db.session.rollback()
            return render_template("auth/link_expired.html", kind="password reset"), 404
        db.session.commit()
        start_session(user)
        flash(
            "Your password has been changed. You have been signed out everywhere else.", "success"
        )
        # A reset proves the email address, not the second factor: that is still asked for.
        return signed_in_response(user, None)
    return render_template("auth/reset_password.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm()
    user = current_user._get_current_object()
    form.user_inputs = lambda: (user.name, user.email)  # type: ignore[method-assign]
    wait = None
    if form.validate_on_submit():
        result = accounts.change_password(
            user,
            form.current.data,
            form.password.data,
            client=client_address(),
            device=recognised_device(),
            now=now(),
        )
        db.session.commit()  # a wrong current password counts, like a wrong sign-in
        if result.user is not None:
            passed = session.get("second_factor", False)
            start_session(user)  # this session carries on with the new session version
            session["second_factor"] = passed
            flash(
                "Your password has been changed. You have been signed out everywhere else.",
                "success",
            )
            return redirect(home_for(user))
        wait = result.retry_after
        form.current.errors = [
            f"Too many attempts. Wait {wait_words(wait)}, then try again"
            if wait is not None
            else "Your current password is not correct"
        ]
    response = make_response(render_template("auth/change_password.html", form=form))
    return too_many(response, wait) if wait is not None else response


@bp.get("/account")
@signed_in
def account() -> ResponseReturnValue:
    return render_template("auth/account.html", user=current_user)
