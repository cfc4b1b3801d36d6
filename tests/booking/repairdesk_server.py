#!/usr/bin/env python3
"""A strict local RepairDesk API for the tests, as BOOKING.md describes it.

  repairdesk_server.py --dir DIR --token API_KEY [--readonly-token K] [--tickets FILE]
                       [--rate-per-minute 50] [--comment-delay-ms N]

Base path /api/web/v1 (configure benchd with url = http://127.0.0.1:PORT/api/web/v1).
Every answer is {"success", "message", "data"}.
  ?api_key=<key> on every request, else 401 (an Authorization header alone is not enough);
  a read-only key: 403 on writes. 50 requests in any 60 s (the published limit), then 429.
  GET  /tickets?page=&pagesize=     data {ticketData: [{summary, devices}], pagination {page,
                                    per_page, total_records, total_pages, next_page_exist,
                                    next_page}}; 25 a page (pagesize 1..25), newest first
  GET  /tickets/{id}                data {summary, devices, notes}, 404 when unknown
  POST /ticket/addnote              {id (integer), note (text), type (0 internal, 1
                                    diagnostic), is_flag (0|1)}: anything else a 422; a new
                                    note every time (no idempotency), data {id}
The rest (test endpoints, records) is in server_base.py.
"""

import json
import re
import sys
import time

import server_base as base

PER_PAGE = 25
NOTE_FIELDS = {"id", "note", "type", "is_flag"}


class State(base.State):
    def ticket_id(self, t):
        return t["summary"]["id"]


def env(success, message, data):
    return {"success": success, "message": message, "data": data}


class Handler(base.Handler):
    def authenticate(self, st, query):
        keys = query.get("api_key") or []
        if len(keys) != 1:
            return None
        if keys[0] == st.token:
            return "write"
        if st.readonly_token and keys[0] == st.readonly_token:
            return "read"
        return None

    def error_body(self, status, message):
        m = {401: "Invalid API Key", 403: "This API key is not allowed to do that",
             404: "Not found", 413: "Request too large", 429: "Too many requests: 50 per minute"}
        return env(False, message or m.get(status, "error"), [])

    def route(self, st, method, path, query, body):
        if not path.startswith("/api/web/v1/"):
            return 404, self.error_body(404, "no such endpoint"), None
        p = path[len("/api/web/v1"):]
        try:
            if p == "/tickets" and method == "GET":
                return self.list_tickets(st, query)
            m = re.fullmatch(r"/tickets/([0-9]+)", p)
            if m and method == "GET":
                with st.lock:
                    t = st.tickets.get(int(m.group(1)))
                    if t is None:
                        return 404, self.error_body(404, "Ticket not found"), None
                    return 200, env(True, "Ticket fetched", t), None
            if p == "/ticket/addnote" and method == "POST":
                return self.addnote(st, body)
        except ValueError as e:
            return 422, self.error_body(422, str(e)), None
        return 404, self.error_body(404, "no such endpoint: %s %s" % (method, path)), None

    def list_tickets(self, st, query):
        page = base.positive_int(base.one(query, "page"), "page") or 1
        size = base.positive_int(base.one(query, "pagesize"), "pagesize") or PER_PAGE
        if size > PER_PAGE:
            raise ValueError("pagesize must be from 1 to %d" % PER_PAGE)
        with st.lock:
            rows = sorted(st.tickets.values(), key=lambda t: -t["summary"]["id"])
            total = len(rows)
            pages = max(1, (total + size - 1) // size)
            chunk = [{k: v for k, v in t.items() if k != "notes"} for t in rows[(page - 1) * size:page * size]]
        more = page < pages
        return 200, env(True, "Tickets fetched", {
            "ticketData": chunk,
            "pagination": {"page": page, "per_page": size, "total_records": total, "total_pages": pages,
                           "next_page_exist": more, "next_page": page + 1 if more else None}}), None

    def addnote(self, st, body):
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            raise ValueError("the body must be JSON (Content-Type: application/json)")
        try:
            doc = json.loads(body)
        except ValueError:
            raise ValueError("the body is not valid JSON")
        if not isinstance(doc, dict):
            raise ValueError("the body must be a JSON object")
        unknown = sorted(set(doc) - NOTE_FIELDS)
        if unknown:
            raise ValueError("unknown field(s): %s" % ", ".join(unknown))
        isint = lambda v: isinstance(v, int) and not isinstance(v, bool)
        if not isint(doc.get("id")):
            raise ValueError("id is required and must be a whole number")
        if not isinstance(doc.get("note"), str) or not doc["note"].strip():
            raise ValueError("note is required")
        if doc.get("type") not in (0, 1) or not isint(doc.get("type")):
            raise ValueError("type must be 0 (internal) or 1 (diagnostic)")
        if "is_flag" in doc and (doc["is_flag"] not in (0, 1) or not isint(doc["is_flag"])):
            raise ValueError("is_flag must be 0 or 1")
        with st.lock:
            t = st.tickets.get(doc["id"])
            if t is None:
                return 404, self.error_body(404, "Ticket not found"), None
            st.next_comment += 1
            n = {"id": st.next_comment, "note": doc["note"], "type": doc["type"],
                 "is_flag": doc.get("is_flag", 0), "created_on": int(time.time()), "user": "API"}
            t.setdefault("notes", []).append(n)
            delay = st.comment_delay_ms
        if delay:
            time.sleep(delay / 1000)
        return 200, env(True, "Note added successfully", {"id": n["id"]}), None


if __name__ == "__main__":
    sys.exit(base.serve(State, Handler, __doc__.splitlines()[0], 50))
