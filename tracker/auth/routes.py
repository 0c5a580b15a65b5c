"""Signing in and out, invitations, password resets and password changes."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from tracker.auth.access import public, signed_in
from tracker.auth.forms import (
    AcceptInvitationForm,
    ChangePasswordForm,
    RequestResetForm,
    ResetPasswordForm,
    SignInForm,
)
from tracker.domain.enums import Role
from tracker.extensions import db
from tracker.models import TokenPurpose
from tracker.services import accounts

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
    """A fresh session for a person who just proved who they are."""
    session.clear()  # nothing from before sign-in survives (session fixation)
    login_user(user)
    session["signed_in_at"] = now().timestamp()
    session["last_seen"] = now().timestamp()


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
def sign_in() -> ResponseReturnValue:
    form = SignInForm()
    throttled = False
    if form.validate_on_submit():
        result = accounts.authenticate(
            form.email.data, form.password.data, client=request.remote_addr or "-", now=now()
        )
        db.session.commit()  # the attempt counts even when sign-in fails
        if result.user is not None:
            start_session(result.user)
            return redirect(safe_next(request.args.get("next")) or home_for(result.user))
        throttled = result.throttled
        message = (
            "Too many attempts to sign in. Wait 15 minutes, then try again"
            if throttled
            else "Enter a correct email address and password"
        )
        form.email.errors = [message]
        form.password.data = ""
    status = 429 if throttled else 200
    return render_template("auth/sign_in.html", form=form), status


@bp.post("/sign-out")
@signed_in
def sign_out() -> ResponseReturnValue:
    accounts.sign_out_everywhere(current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out", "success")
    return redirect(url_for("auth.sign_in"))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@public
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
        db.session.commit()
        start_session(user)
        flash("Your account is ready", "success")
        return redirect(home_for(user))
    return render_template("auth/accept_invitation.html", form=form, invitee=found.user)


@bp.route("/password-reset", methods=["GET", "POST"])
@public
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
def reset_password(token: str) -> ResponseReturnValue:
    found = accounts.find_token(token, TokenPurpose.PASSWORD_RESET, now())
    if found is None:
        return render_template("auth/link_expired.html", kind="password reset"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        user = accounts.reset_password(found, form.password.data, now=now())
        db.session.commit()
        start_session(user)
        flash(
            "Your password has been changed. You have been signed out everywhere else.", "success"
        )
        return redirect(home_for(user))
    return render_template("auth/reset_password.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm()
    user = current_user._get_current_object()
    form.user_inputs = lambda: (user.name, user.email)  # type: ignore[method-assign]
    if form.validate_on_submit():
        if accounts.change_password(user, form.current.data, form.password.data):
            db.session.commit()
            start_session(user)  # this session carries on with the new session version
            flash(
                "Your password has been changed. You have been signed out everywhere else.",
                "success",
            )
            return redirect(home_for(user))
        form.current.errors = ["Your current password is not correct"]
    return render_template("auth/change_password.html", form=form)


@bp.get("/account")
@signed_in
def account() -> ResponseReturnValue:
    return render_template("auth/account.html", user=current_user)
