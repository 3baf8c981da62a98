"""Logins of the Salesforce emulator: the SOAP ``login`` call, the OAuth token
endpoint (password, client_credentials, JWT bearer) and the sessions they issue."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

import jwt
from werkzeug.wrappers import Request, Response

from nexasync.sandbox._http import json_response

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_SOAP_NS = 'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'


def soap_fault(code: str, message: str, status: int = 500) -> Response:
    fault = "LoginFault" if code == "INVALID_LOGIN" else "UnexpectedErrorFault"
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope {_SOAP_NS} '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring>"
        f'<detail><sf:{fault} xsi:type="sf:{fault}"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:{fault}></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status=status, mimetype="text/xml")


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class Auth:
    def __init__(self, *, username: str, password: str, security_token: str,
                 consumer_key: str, consumer_secret: str, jwt_public_key_pem: bytes | None,
                 org_id: str) -> None:
        self.username, self._password, self._token = username, password, security_token
        self.consumer_key, self._secret = consumer_key, consumer_secret
        self._jwt_key = jwt_public_key_pem
        self.org_id = org_id
        self.user_id = ""  # set once the API user exists
        self.sessions: set[str] = set()

    def issue(self) -> str:
        session = f"{self.org_id[:15]}!{secrets.token_urlsafe(48)}"
        self.sessions.add(session)
        return session

    def expire_all(self) -> None:
        self.sessions.clear()

    def valid(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() in ("bearer", "oauth") and token.strip() in self.sessions

    # -- SOAP -------------------------------------------------------------------------
    def soap_login(self, request: Request, version: str, base: str) -> Response:
        raw = request.get_data()
        if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
            return soap_fault("INVALID_XML", "DOCTYPE is not allowed")
        try:
            root = ET.fromstring(raw)
        except ET.ParseError:
            return soap_fault("INVALID_XML", "unable to parse the request")
        texts = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
        if "login" not in texts:
            return soap_fault("INVALID_OPERATION", "only login is supported here")
        if not (_same(texts.get("username"), self.username)
                and _same(texts.get("password"), self._password + self._token)):
            return soap_fault("INVALID_LOGIN",
                              "Invalid username, password, security token; or user locked out.")
        session = self.issue()
        server = f"{base}/services/Soap/u/{version}/{self.org_id[:15]}"
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope {_SOAP_NS} '
            'xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            "<loginResponse><result>"
            f"<metadataServerUrl>{base}/services/Soap/m/{version}/{self.org_id[:15]}"
            "</metadataServerUrl><passwordExpired>false</passwordExpired>"
            f"<sandbox>true</sandbox><serverUrl>{server}</serverUrl>"
            f"<sessionId>{session}</sessionId><userId>{self.user_id}</userId>"
            f"<userInfo><organizationId>{self.org_id}</organizationId>"
            f"<userId>{self.user_id}</userId><userName>{escape(self.username)}</userName>"
            "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return Response(body, status=200, mimetype="text/xml")

    # -- OAuth ------------------------------------------------------------------------
    def token(self, request: Request, base: str) -> Response:
        form = request.form
        grant = form.get("grant_type")
        if grant == "password":
            if not _same(form.get("client_id"), self.consumer_key):
                return oauth_error("invalid_client_id", "client identifier invalid")
            if not _same(form.get("client_secret"), self._secret):
                return oauth_error("invalid_client", "invalid client credentials")
            password = form.get("password") or ""
            # Without a trusted IP range the token is appended to the password.
            ok_password = _same(password, self._password) or _same(
                password, self._password + self._token)
            if not (_same(form.get("username"), self.username) and ok_password):
                return oauth_error("invalid_grant", "authentication failure")
        elif grant == "client_credentials":
            auth = request.authorization
            cid = auth.username if auth and auth.type == "basic" else form.get("client_id")
            secret = auth.password if auth and auth.type == "basic" else form.get("client_secret")
            if not _same(cid, self.consumer_key):
                return oauth_error("invalid_client_id", "client identifier invalid")
            if not _same(secret, self._secret):
                return oauth_error("invalid_client", "invalid client credentials")
        elif grant == JWT_GRANT:
            refused = self._jwt_refusal(form.get("assertion") or "", base)
            if refused:
                return refused
        else:
            return oauth_error("unsupported_grant_type", "grant type not supported")
        return json_response(self._token_body(base, grant == JWT_GRANT))

    def _jwt_refusal(self, assertion: str, base: str) -> Response | None:
        try:
            if self._jwt_key is not None:
                claims: dict[str, Any] = jwt.decode(
                    assertion, self._jwt_key, algorithms=["RS256"],
                    options={"verify_aud": False, "require": ["exp", "iss", "sub"]})
            else:
                claims = jwt.decode(assertion, options={"verify_signature": False})
                if int(claims.get("exp", 0)) < time.time():
                    raise jwt.ExpiredSignatureError("expired")
        except (jwt.InvalidTokenError, ValueError):
            return oauth_error("invalid_grant", "invalid assertion")
        aud = str(claims.get("aud", ""))
        if not (aud.endswith(".salesforce.com") or aud.rstrip("/") == base):
            return oauth_error("invalid_grant", "audience is invalid")
        if not _same(str(claims.get("iss", "")), self.consumer_key):
            return oauth_error("invalid_client_id", "client identifier invalid")
        if not _same(str(claims.get("sub", "")), self.username):
            return oauth_error("invalid_grant", "authentication failure")
        return None

    def _token_body(self, base: str, jwt_grant: bool) -> dict[str, Any]:
        issued = str(int(time.time() * 1000))
        ident = f"{base}/id/{self.org_id}/{self.user_id}"
        digest = hmac.new(self._secret.encode(), (ident + issued).encode(), hashlib.sha256)
        body = {"access_token": self.issue(), "instance_url": base, "id": ident,
                "token_type": "Bearer", "issued_at": issued,
                "signature": base64.b64encode(digest.digest()).decode()}
        if jwt_grant:
            body["scope"] = "api"
        return body
