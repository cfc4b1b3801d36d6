#!/usr/bin/env python3
"""A strict local RepairShopr (and Syncro) API for the tests, as BOOKING.md describes it.

  repairshopr_server.py --dir DIR --token TOKEN [--readonly-token T] [--tickets FILE]
                        [--rate-per-minute 180] [--comment-delay-ms N]

Base path /api/v1 (configure benchd with url = http://127.0.0.1:PORT/api/v1).
  Authorization: Bearer <token> (or the legacy ?api_key=): else 401; a read-only key: 403 on
  writes. 180 requests in any 60 s (the published limit), then 429 with Retry-After.
  GET  /tickets?number=&status=&page=   {"tickets": [...], "meta": {total_pages, total_entries,
                                        per_page: 25, page}}; status "Not Closed" leaves out
                                        Resolved tickets; newest (highest id) first; list rows
                                        carry no comments
  GET  /tickets/{id}                    {"ticket": {... "comments": [...]}}, 404 when unknown
  POST /tickets/{id}/comment            {subject, body, tech, hidden, do_not_email, sms_body}:
                                        an unknown field, a wrong type or a blank subject/body is
                                        a 422 {"success": false, "message": [...]}; else a new
                                        comment every time (no idempotency), answered
                                        {"comment": {id, ticket_id, subject, body, tech, hidden,
                                        user_id}}
The rest of the behaviour (test endpoints, records) is in server_base.py.
"""

import json
import re
import sys
import time

import server_base as base

PER_PAGE = 25
COMMENT_FIELDS = {"subject": str, "body": str, "tech": str, "hidden": bool, "do_not_email": bool,
                  "sms_body": str}


class State(base.State):
    def ticket_id(self, t):
        return t["id"]


class Handler(base.Handler):
    def authenticate(self, st, query):
        auth = self.headers.get("Authorization")
        key = None
        if auth is not None:
            m = re.fullmatch(r"Bearer (\S+)", auth)
            key = m.group(1) if m else None
        elif "api_key" in query:  # the legacy query parameter still exists
            key = query["api_key"][0]
        if key == st.token:
            return "write"
        if st.readonly_token and key == st.readonly_token:
            return "read"
        return None

    def error_body(self, status, message):
        if status == 401:
            return {"success": False, "message": "Unauthorized: the API key is missing or not valid"}
        if status == 403:
            return {"success": False, "message": "This API key does not have permission for this action"}
        if status == 429:
            return {"success": False, "message": "Too many requests: 180 per minute per IP"}
        if status == 404:
            return {"success": False, "message": message or "Record not found"}
        if status == 422:
            return {"success": False, "message": message if isinstance(message, list) else [message]}
        return {"success": False, "message": message or "error"}

    def route(self, st, method, path, query, body):
        if not path.startswith("/api/v1/"):
            return 404, self.error_body(404, "no such endpoint"), None
        p = path[len("/api/v1"):]
        try:
            if p == "/tickets" and method == "GET":
                return self.list_tickets(st, query)
            m = re.fullmatch(r"/tickets/([0-9]+)", p)
            if m and method == "GET":
                with st.lock:
                    t = st.tickets.get(int(m.group(1)))
                    if t is None:
                        return 404, self.error_body(404, None), None
                    return 200, {"ticket": t}, None
            m = re.fullmatch(r"/tickets/([0-9]+)/comment", p)
            if m and method == "POST":
                return self.comment(st, int(m.group(1)), body)
        except ValueError as e:
            return 422, self.error_body(422, str(e)), None
        return 404, self.error_body(404, "no such endpoint: %s %s" % (method, path)), None

    def list_tickets(self, st, query):
        # Unknown query parameters are ignored, as the real API ignores some it does not know.
        page = base.positive_int(base.one(query, "page"), "page") or 1
        number = base.one(query, "number")
        status = base.one(query, "status")
        with st.lock:
            rows = sorted(st.tickets.values(), key=lambda t: -t["id"])
            if number is not None:
                rows = [t for t in rows if str(t.get("number")) == number]
            if status == "Not Closed":
                rows = [t for t in rows if t.get("status") != "Resolved"]
            elif status is not None:
                rows = [t for t in rows if t.get("status") == status]
            total = len(rows)
            pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
            chunk = rows[(page - 1) * PER_PAGE:page * PER_PAGE]
            chunk = [{k: v for k, v in t.items() if k != "comments"} for t in chunk]
        return 200, {"tickets": chunk, "meta": {"total_pages": pages, "total_entries": total,
                                                "per_page": PER_PAGE, "page": page}}, None

    def comment(self, st, tid, body):
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            raise ValueError("the body must be JSON (Content-Type: application/json)")
        try:
            doc = json.loads(body)
        except ValueError:
            raise ValueError("the body is not valid JSON")
        if not isinstance(doc, dict):
            raise ValueError("the body must be a JSON object")
        errors = []
        for k, v in doc.items():
            want = COMMENT_FIELDS.get(k)
            if want is None:
                errors.append("unknown attribute '%s' for Comment" % k)
            elif not isinstance(v, want) or (want is str and isinstance(v, bool)):
                errors.append("%s must be a %s" % (k, "boolean" if want is bool else "string"))
        for k in ("subject", "body"):
            if not isinstance(doc.get(k), str) or not doc.get(k).strip():
                errors.append("%s can't be blank" % k.capitalize())
        if errors:
            return 422, self.error_body(422, errors), None
        with st.lock:
            t = st.tickets.get(tid)
            if t is None:
                return 404, self.error_body(404, None), None
            st.next_comment += 1
            c = {"id": st.next_comment, "ticket_id": tid, "subject": doc["subject"], "body": doc["body"],
                 "tech": doc.get("tech", "API"), "hidden": doc.get("hidden", False),
                 "do_not_email": doc.get("do_not_email", False), "user_id": 1,
                 "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            t.setdefault("comments", []).append(c)
            delay = st.comment_delay_ms
        if delay:
            time.sleep(delay / 1000)  # stored, not yet answered: a client killed now lost the answer
        return 200, {"comment": {k: c[k] for k in ("id", "ticket_id", "subject", "body", "tech", "hidden",
                                                     "user_id")}}, None


if __name__ == "__main__":
    sys.exit(base.serve(State, Handler, __doc__.splitlines()[0], 180))
