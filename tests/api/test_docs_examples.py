"""/docs: every route has a summary and a request example that needs nothing outside the service and its
sandbox; the spec opens with an introduction; multipart media fields are file pickers; Prefer is documented."""
import json
import re


def spec(client) -> dict:
    return client.get("/openapi.json").get_json()


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op, item.get("parameters", [])


def test_every_route_has_a_request_example(client):
    doc = spec(client)
    for path, method, op, path_params in operations(doc):
        assert "Example:" in op.get("description", "") and "curl" in op["description"], (method, path)
        for param in [*path_params, *op.get("parameters", [])]:
            if param["in"] in ("path", "query"):
                assert "example" in param, (method, path, param["name"])
        json_body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if json_body is not None:
            assert "example" in json_body, (method, path)


def test_multipart_media_fields_are_file_pickers(client):
    schemas = spec(client)["components"]["schemas"]
    form = schemas["VideoSubmitForm"]["properties"]
    for name in ("image_file", "image_file_1", "image_file_9", "video_file_3", "frame_image_1"):
        assert form[name] == {**form[name], "type": "string", "format": "binary"}, name
    assert schemas["OpenAIVideoForm"]["properties"]["input_reference"]["format"] == "binary"
    # in JSON the same fields are URLs or data URIs, not binaries
    assert "format" not in schemas["VideoSubmit"]["properties"]["image_file_1"]


def test_prefer_and_idempotency_headers_and_the_blocking_answer_are_documented(client):
    doc = spec(client)
    for path in ("/v1/videos/generations", "/v1/videos"):
        names = {p["name"] for p in doc["paths"][path]["post"]["parameters"] if p["in"] == "header"}
        assert {"Prefer", "Idempotency-Key"} <= names, path
    blocking = doc["components"]["schemas"]["BlockingAnswer"]["properties"]
    assert {"created", "task_id", "data"} <= set(blocking)
    responses = doc["paths"]["/v1/videos/generations"]["post"]["responses"]
    assert "202" in responses


def test_every_operation_has_a_summary(client):
    missing = [(method, path) for path, method, op, _ in operations(spec(client)) if not op.get("summary")]
    assert missing == []


def test_the_spec_opens_with_an_introduction_to_tokens_and_the_sandbox(client):
    intro = spec(client)["info"]["description"]
    assert "Authorize" in intro and "session id" in intro and "API key" in intro
    assert "make try" in intro and "sandbox" in intro


def test_no_example_points_at_a_host_the_sandbox_cannot_reach(client):
    """"Try it out" sends the examples: a URL of example.com (or any host but the service's) would fail there."""
    doc = spec(client)
    examples = [op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
                for _, _, op, _ in operations(doc)]
    urls = re.findall(r"https?://[^\"\s]+", json.dumps([e for e in examples if e is not None]))
    assert [u for u in urls if not u.startswith("https://jimeng.jianying.com/")] == []   # a HAR's own calls
