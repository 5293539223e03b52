"""What a person does in the browser during a built-in sign-in, done with httpx: follow
`/authorize` to the sign-in form, paste a bridge token, press Allow, and read where the browser lands."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx2


class FormFields(HTMLParser):
    """The hidden and named inputs of a page's form."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, str] = {}
        self.password_fields: list[str] = []
        self.action = ""  # the form's `action`, as written (the browser resolves it against the page URL)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.action = found.get("action") or ""
        if tag == "input" and found.get("name"):
            self.inputs[str(found["name"])] = found.get("value") or ""
            if found.get("type") == "password":
                self.password_fields.append(str(found["name"]))


def form_fields(page: str) -> FormFields:
    parser = FormFields()
    parser.feed(page)
    return parser


def sign_in(authorization_url: str, bridge_token: str) -> str:
    """What the person does in the browser; returns the redirect URL the browser lands on."""
    with httpx2.Client(timeout=20) as browser:
        sent = browser.get(authorization_url)
        assert sent.status_code == 302, sent.text
        request_id = parse_qs(urlsplit(sent.headers["location"]).query)["request"][0]
        consent_page = browser.post(
            authorization_url.split("/authorize", 1)[0] + "/oauth/sign-in",
            data={"request": request_id, "token": bridge_token},
        )
        assert consent_page.status_code == 200, consent_page.text
        consent = form_fields(consent_page.text).inputs
        back = browser.post(
            authorization_url.split("/authorize", 1)[0] + "/oauth/consent", data={**consent, "decision": "allow"}
        )
        assert back.status_code == 303
        return back.headers["location"]
