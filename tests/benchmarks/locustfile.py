"""The load test's mixed workload (locust), run by ``tests.benchmarks.load``.

The public reading the site, leads at their task lists, the programme team on its admin pages,
and machines reading the API, in the proportions a busy reporting week might bring. Each
simulated person thinks for one to three seconds between pages. The dataset's current period,
its leads and its organisations arrive in a JSON file named by LOAD_PLAN.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from pathlib import Path

import pyotp
from locust import HttpUser, between, task

PLAN = json.loads(Path(os.environ["LOAD_PLAN"]).read_text())
PERIOD = PLAN["period"]
PASSWORD = PLAN["password"]
_admin_numbers = itertools.count()
TOTP = pyotp.TOTP(PLAN["totp_secret"])  # the admins' shared secret (tests.factories)


def organisation() -> str:
    return random.choice(PLAN["organisations"])


class Signed(HttpUser):
    abstract = True
    email = ""

    def on_start(self) -> None:
        html = self.client.get("/sign-in", name="/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        response = self.client.post(
            "/sign-in",
            data={
                "email": self.email,
                "password": PASSWORD,
                "csrf_token": token.group(1) if token else "",
            },
            name="/sign-in (POST)",
        )
        if "/account/two-factor" in response.url:  # admins: the code their app would show
            token = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
            self.client.post(
                response.url,
                data={"code": TOTP.now(), "csrf_token": token.group(1) if token else ""},
                name="/account/two-factor (POST)",
            )


class Public(HttpUser):
    weight = 5
    wait_time = between(1, 3)

    @task(3)
    def organisation_page(self) -> None:
        self.client.get(f"/organisations/{organisation()}", name="/organisations/[slug]")

    @task(2)
    def organisations(self) -> None:
        self.client.get("/organisations", name="/organisations")

    @task(1)
    def priorities(self) -> None:
        self.client.get("/priorities/net-zero-town", name="/priorities/[code]")

    @task(1)
    def home(self) -> None:
        self.client.get("/", name="/")


class Lead(Signed):
    weight = 3
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.email, self.organisation = random.choice(PLAN["leads"])
        super().on_start()

    @task(3)
    def task_list(self) -> None:
        self.client.get(
            f"/organisations/{self.organisation}/returns/{PERIOD}",
            name="/organisations/[slug]/returns/[period]",
        )

    @task(1)
    def returns(self) -> None:
        self.client.get("/returns", name="/returns")


class Admin(Signed):
    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        # Each simulated admin its own account: a two-factor code is accepted once.
        self.email = PLAN["admins"][next(_admin_numbers) % len(PLAN["admins"])]
        super().on_start()

    @task(2)
    def overview(self) -> None:
        self.client.get("/admin", name="/admin")

    @task(2)
    def review_queue(self) -> None:
        self.client.get(f"/admin/returns/{PERIOD}", name="/admin/returns/[period]")

    @task(1)
    def board(self) -> None:
        self.client.get(f"/board/{PERIOD}", name="/board/[period]")

    @task(1)
    def outbox(self) -> None:
        self.client.get("/admin/notifications?state=failed", name="/admin/notifications")


class Machine(HttpUser):
    weight = 1
    wait_time = between(1, 3)

    @task(2)
    def organisations(self) -> None:
        page = random.randint(1, max(1, len(PLAN["organisations"]) // 100))
        self.client.get(
            f"/api/v1/organisations?per_page=100&page={page}", name="/api/v1/organisations"
        )

    @task(2)
    def commitments(self) -> None:
        self.client.get("/api/v1/commitments?per_page=100", name="/api/v1/commitments")

    @task(1)
    def summary(self) -> None:
        self.client.get("/api/v1/board-summaries", name="/api/v1/board-summaries")
