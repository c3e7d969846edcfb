"""The Jimeng main and commerce API routes (protocol 2-7), each verified by `checks` first."""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, jsonify, request

from sandbox import catalogue, checks, credits, drafts, models_api, shark
from sandbox.directives import parse_directives
from sandbox.envelope import RET_INVALID_PARAMETER, RET_SHARK_NOT_PASS, Refusal, envelope, new_logid
from sandbox.records import download_item, render
from sandbox.state import SandboxState

RET_SYSTEM_BUSY = "1014"
CN_CREDIT_REFERER = "https://jimeng.jianying.com/ai-tool/image/generate"
MAX_LOCAL_ITEMS = 100          # the sandbox's own bound; Jimeng's is not documented
RET_NOT_AN_ITEM = "3005"        # update 5: an asset-wrapper id given to get_local_item_list
MAX_HISTORY_PAGE = 100          # the sandbox's own bound; Jimeng's is not documented
GENERATE_TYPES = {1: "image", 10: "video"}   # record generate_type (protocol 3.4)

Handler = Callable[[checks.Caller, dict, float, str], dict]


def create_blueprint(state: SandboxState) -> Blueprint:
    bp = Blueprint("jimeng_api", __name__)

    def route(path: str, *, default_query: bool = True, commerce: bool = False, guarded: bool = False):
        """Register a handler(caller, body, now, logid) -> data behind the checks and the envelope.
        `guarded`: the anti-abuse gate (sandbox/shark.py) runs first, as Jimeng's gateway does."""
        def register(handler: Handler) -> Handler:
            def view():
                now = state.now()
                logid = new_logid(now)
                intl = commerce and request.headers.get("Appid") == str(catalogue.INTL_AID)
                try:
                    if guarded:
                        shark.check_generate(request.query_string, request.headers, request.get_data(),
                                             protected_models=state.settings.protected_models,
                                             legacy=state.settings.shark_legacy)
                    caller = checks.verify_call(request.path, request.headers, request.args, request.cookies, now,
                                                max_skew=state.settings.max_skew_seconds,
                                                default_query=default_query, drift=state.settings.drift)
                    state.sessions.check_login(caller.session_id)
                    body = request.get_json(silent=True) if request.get_data() else {}
                    if not isinstance(body, dict):
                        raise Refusal(RET_INVALID_PARAMETER, "invalid parameter: the body must be a JSON object")
                    body = state.settings.drift.body_in(body)
                    data = handler(caller, body, now, logid)
                except Refusal as refusal:
                    answer = envelope(refusal.data, now, ret=refusal.ret, errmsg=refusal.errmsg, logid=logid,
                                      intl_commerce=intl)
                    return jsonify({**answer, **refusal.fields})
                return jsonify(envelope(data, now, logid=logid, intl_commerce=intl))
            bp.add_url_rule(path, handler.__name__, view, methods=["POST"])
            return handler
        return register

    @route("/mweb/v1/aigc_draft/generate", guarded=True)
    def generate(caller, body, now, logid):
        if caller.session_id.startswith("risky"):
            raise Refusal(RET_SHARK_NOT_PASS, "shark not pass: sandbox session marked risky")
        if state.sessions.rule(caller.session_id).risky:
            raise shark.risk_refusal()
        draft = drafts.read_generate(body, caller, state.uploads)
        models_api.check_generate(state, caller, body, draft)
        try:
            scenario = parse_directives(draft.texts)
        except ValueError as exc:
            raise drafts.bad(str(exc)) from None
        state.settle_refunds(now)
        with state.sessions.admission:   # the parallel check and the create are one step
            state.sessions.check_parallel(caller.session_id, state.records.running(caller.session_id, now))
            # Charged last, right before the task exists: every refusal above charges nothing. A prompt
            # refused at submit is charged nothing either (not documented: the sandbox's guess).
            cost = 0 if scenario.refuse == "prompt" else credits.price(draft.kind, draft.duration_ms, draft.count,
                                                                        draft.model_key)
            state.credits.charge(caller.session_id, cost)
            record = state.records.create(caller, body, draft, scenario, now, logid,
                                          state.settings.queue_seconds, state.settings.generate_seconds, cost)
        return {"aigc_data": render(record, now, request.host_url, state.media),
                "fail_code": "", "fail_starling_key": "", "fail_starling_message": ""}

    @route("/mweb/v1/aigc_draft/cancel_generate")
    def cancel_generate(caller, body, now, logid):
        """Cancel a queued video (addendum 2026-12, [JF]): `{"history_id": "<history_record_id>"}`;
        the record becomes status 30 / task.status 30 / queue_status 3 and its credits come back.
        Evidence covers queued CN videos only, and Jimeng's answer to a cancel it refuses is not
        documented: everything else is refused with ret 1000 and a message naming why."""
        history_id = body.get("history_id")
        if not isinstance(history_id, str) or not history_id.isdigit():
            raise drafts.bad("history_id must be a history_record_id (a string of digits)")
        if caller.region != "cn":
            raise drafts.bad("cancel_generate is documented for CN accounts only")
        try:
            record = state.records.cancel(caller.session_id, history_id, now)
        except LookupError:
            raise drafts.bad(f"no record {history_id} for this account") from None
        except ValueError as exc:
            raise drafts.bad(f"record {history_id} cannot be cancelled: {exc}") from None
        state.credits.refund(caller.session_id, record.charged)
        return {}

    @route("/mweb/v1/get_history_by_ids")
    def get_history_by_ids(caller, body, now, logid):
        ids = {name: body.get(name, []) for name in ("history_ids", "submit_ids")}
        for name, value in ids.items():
            if not isinstance(value, list) or not all(isinstance(i, str) and i for i in value):
                raise drafts.bad(f"{name} must be a list of id strings")
        if not ids["history_ids"] and not ids["submit_ids"]:
            raise drafts.bad("give history_ids or submit_ids")
        if not isinstance(body.get("image_info", {}), dict):
            raise drafts.bad("image_info must be an object")
        found = state.records.find(caller.session_id, ids["history_ids"], ids["submit_ids"], now)
        return {key: render(record, now, request.host_url, state.media) for key, record in found.items()}

    @route("/mweb/v1/get_history")
    def get_history(caller, body, now, logid):
        """The account's history list (update, section 6): `records_list`, `has_more`, `next_offset`."""
        count, offset, types = body.get("count"), body.get("offset", 0), body.get("history_type_list")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_HISTORY_PAGE:
            raise drafts.bad(f"count must be an integer from 1 to {MAX_HISTORY_PAGE}")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise drafts.bad("offset must be a non-negative integer (a next_offset from an earlier page)")
        if not isinstance(types, list) or not types or not all(t in GENERATE_TYPES for t in types):
            raise drafts.bad(f"history_type_list must list generate types from {sorted(GENERATE_TYPES)}")
        if body.get("mode") != "workbench":
            raise drafts.bad("mode must be workbench")
        kinds = {GENERATE_TYPES[t] for t in types}
        records, has_more = state.records.page(caller.session_id, kinds, count, offset, now)
        return {"records_list": [render(r, now, request.host_url, state.media) for r in records],
                "has_more": has_more, "next_offset": records[-1].seq if has_more else 0}

    @route("/mweb/v1/get_upload_token")
    def get_upload_token(caller, body, now, logid):
        try:
            return state.uploads.issue_token(caller, body.get("scene"), now)
        except ValueError as exc:
            raise drafts.bad(str(exc)) from None

    @route("/mweb/v1/algo_proxy")
    def algo_proxy(caller, body, now, logid):
        files = body.get("file_list")
        if not isinstance(files, list) or not files:
            raise drafts.bad("file_list must be a non-empty list")
        for entry in files:
            uri = entry.get("file_uri") if isinstance(entry, dict) else None
            if not isinstance(uri, str) or state.uploads.image(caller.session_id, uri) is None:
                raise drafts.bad(f"file_uri {uri!r} was not uploaded by this session")
        # The success payload is not documented (iptag only reads errors); this shape is a guess.
        return {"req_key": body.get("req_key", ""), "file_list": [{"file_uri": f["file_uri"], "pass": True}
                                                                   for f in files]}

    @route("/mweb/v1/get_local_item_list")
    def get_local_item_list(caller, body, now, logid):
        """Download items (update 6): the caller's own finished videos by generated item id; a
        record (asset-wrapper) id is ret 3005 ([JL]); anything else is simply not listed."""
        ids = body.get("item_id_list")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            raise drafts.bad("item_id_list must be a non-empty list of id strings")
        if len(ids) > MAX_LOCAL_ITEMS:
            raise drafts.bad(f"item_id_list takes at most {MAX_LOCAL_ITEMS} ids")
        if body.get("pack_item_opt") != {"scene": 1, "need_data_integrity": True}:
            raise drafts.bad('pack_item_opt must be {"scene": 1, "need_data_integrity": true}')
        if body.get("is_for_video_download") is not True:
            raise drafts.bad("is_for_video_download must be true")
        items = []
        for item_id in ids:
            if state.records.find(caller.session_id, [item_id], [], now):
                raise Refusal(RET_NOT_AN_ITEM, f"item {item_id} is not a generated item (a record id?)")
            record = state.records.find_item(caller.session_id, item_id)
            if record and record.draft.kind == "video" and record.phase(now) == "completed":
                items.append(download_item(record, request.host_url, state.media, now))
        return {"item_list": items}

    @route("/commerce/v1/benefits/user_credit", default_query=False, commerce=True)
    def user_credit(caller, body, now, logid):
        """The balance (update 7): in CN, default query params or another Referer than the image
        page answer 1014 "system busy", as [SB] saw."""
        state.settle_refunds(now)
        if caller.region == "cn":
            sent = sorted(name for name in checks.DEFAULT_QUERY if name in request.args)
            if sent:
                raise Refusal(RET_SYSTEM_BUSY, f"system busy: user_credit takes no default query params ({sent})")
            if request.headers.get("Referer") != CN_CREDIT_REFERER:
                raise Refusal(RET_SYSTEM_BUSY, f"system busy: user_credit needs Referer {CN_CREDIT_REFERER}")
        return credits.balance_answer(state.credits.balance(caller.session_id), abroad=caller.region != "cn",
                                      expire_time=int(now) + 86400)

    @route("/commerce/v1/benefits/credit_receive", commerce=True)
    def credit_receive(caller, body, now, logid):
        shark.check_claim(request.query_string, request.headers, request.get_data())
        quota = state.credits.receive(caller.session_id, body.get("time_zone"), now)
        return {"is_first_receive": bool(quota), "receive_quota": quota, "has_popup": bool(quota),
                "receive_inter_days": 1}

    @route("/passport/account/info/v2")
    def account_info(caller, body, now, logid):
        user_id = int(caller.fingerprint, 16) % 10 ** 16
        return {"user_id": user_id, "user_id_str": str(user_id), "screen_name": f"sandbox-{caller.fingerprint}",
                "app_id": caller.aid}

    @route("/mweb/v1/video_generate/get_common_config")
    def get_common_config(caller, body, now, logid):
        return models_api.common_config(state, caller, body)

    @route("/mweb/v1/workspace/list")
    def workspace_list(caller, body, now, logid):
        return models_api.workspaces(caller)

    return bp
