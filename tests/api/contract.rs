//! Every /v1 answer the tests receive is checked against the OpenAPI document, and every
//! management API answer (/api/v1) against the management document: the operation is found by
//! method and path among the document's templates, the response by status (a status it does not
//! list fails), and the body must match that response's schema. A /v1 request that is no
//! operation must get the firewall's bare 403; a management one, an error in the envelope with a
//! status authentication or routing answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use jsonschema::Validator;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::{Value, json};
use tidegate::testing::v1::{FIREWALL_BODY, document};

pub struct Contract {
    operations: Vec<Described>,
    unmatched: Unmatched,
}

/// What may answer a request that is no operation of the document.
enum Unmatched {
    /// /v1: the firewall's bare 403.
    Firewall,
    /// The management API: the error envelope (`#/components/schemas/Error`), after
    /// authentication, with one of these statuses (404 for a path or method it does not serve).
    Error(Arc<Validator>, &'static [u16]),
}

struct Described {
    id: String,
    method: String,
    path: Vec<Segment>,
    responses: HashMap<u16, Answer>,
}

enum Segment {
    Literal(String),
    Parameter(Validator),
}

struct Answer {
    /// By media type.
    content: Vec<(String, Arc<Validator>)>,
    headers: Vec<Header>,
}

struct Header {
    /// Lowercase, as `HeaderMap` looks names up.
    name: String,
    required: bool,
    /// An integer header's value is checked as the number it spells.
    numeric: bool,
    schema: Arc<Validator>,
}

/// How many /v1 answers were checked so far in this test run.
pub static CHECKED: AtomicUsize = AtomicUsize::new(0);
/// How many management API answers were checked so far in this test run.
pub static CHECKED_MANAGEMENT: AtomicUsize = AtomicUsize::new(0);

/// The contract of the document the server serves, compiled once for the whole test binary.
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract::new(&document()))
}

/// The contract of the management document the server serves, compiled once likewise.
pub fn management_contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract::management(&tidegate::testing::management::document()))
}

/// OpenAPI 3.0's `nullable` in JSON Schema terms, everywhere below `schema`.
fn json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(k, _)| *k != "nullable")
                .map(|(k, v)| (k.clone(), json_schema(v)))
                .collect();
            if map.get("nullable") == Some(&Value::Bool(true)) {
                let inner = Value::Object(std::mem::take(&mut out));
                return json!({ "anyOf": [inner, { "type": "null" }] });
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(json_schema).collect()),
        other => other.clone(),
    }
}

impl Contract {
    /// The contract of a /v1 document.
    pub fn new(doc: &Value) -> Contract {
        Contract::compile(doc, |_| Unmatched::Firewall)
    }

    /// The contract of a management document.
    pub fn management(doc: &Value) -> Contract {
        Contract::compile(doc, |compile| {
            let error = compile(&json!({ "$ref": "#/components/schemas/Error" }));
            Unmatched::Error(error, &[401, 403, 404, 429, 503])
        })
    }

    fn compile(
        doc: &Value,
        unmatched: impl FnOnce(&mut dyn FnMut(&Value) -> Arc<Validator>) -> Unmatched,
    ) -> Contract {
        let components = json_schema(&doc["components"]);
        let mut compiled: HashMap<String, Arc<Validator>> = HashMap::new();
        let mut compile = |schema: &Value| -> Arc<Validator> {
            let schema = json_schema(schema);
            let text = schema.to_string();
            let validator = compiled.entry(text).or_insert_with(|| {
                // The root holds the components, so that `#/components/...` resolves.
                let root = json!({ "components": components, "allOf": [schema] });
                Arc::new(
                    jsonschema::draft202012::options()
                        .should_validate_formats(true)
                        .build(&root)
                        .unwrap_or_else(|e| panic!("the document's schema does not compile: {e}")),
                )
            });
            Arc::clone(validator)
        };
        let resolve = |value: &Value| -> Value {
            match value["$ref"].as_str() {
                Some(target) => doc
                    .pointer(target.trim_start_matches('#'))
                    .unwrap_or_else(|| panic!("{target} does not resolve"))
                    .clone(),
                None => value.clone(),
            }
        };
        let unmatched = unmatched(&mut compile);
        let mut operations = Vec::new();
        for (template, methods) in doc["paths"].as_object().expect("paths") {
            for (method, op) in methods.as_object().expect("methods") {
                let parameters = op["parameters"].as_array().cloned().unwrap_or_default();
                let path = template
                    .split('/')
                    .map(
                        |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(name) => {
                                let p = parameters
                                    .iter()
                                    .find(|p| p["name"] == name && p["in"] == "path")
                                    .unwrap_or_else(|| panic!("{template}: no parameter {name}"));
                                Segment::Parameter(
                                    jsonschema::draft202012::options()
                                        .should_validate_formats(true)
                                        .build(&json_schema(&p["schema"]))
                                        .expect("parameter schema"),
                                )
                            }
                            None => Segment::Literal(seg.to_owned()),
                        },
                    )
                    .collect();
                let mut responses = HashMap::new();
                for (status, response) in op["responses"].as_object().expect("responses") {
                    let response = resolve(response);
                    let content = response["content"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(media, c)| (media.clone(), compile(&c["schema"])))
                        .collect();
                    let headers = response["headers"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(name, h)| Header {
                            name: name.to_ascii_lowercase(),
                            required: h["required"] == true,
                            numeric: h["schema"]["type"] == "integer",
                            schema: compile(&h["schema"]),
                        })
                        .collect();
                    let status: u16 = status.parse().expect("a numeric status");
                    responses.insert(status, Answer { content, headers });
                }
                operations.push(Described {
                    id: op["operationId"].as_str().unwrap_or_default().to_owned(),
                    method: method.to_ascii_uppercase(),
                    path,
                    responses,
                });
            }
        }
        Contract {
            operations,
            unmatched,
        }
    }

    fn matches(op: &Described, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        segments.len() == op.path.len()
            && op.path.iter().zip(&segments).all(|(s, seg)| match s {
                Segment::Literal(l) => l == seg,
                Segment::Parameter(v) => v.is_valid(&Value::String((*seg).to_owned())),
            })
    }

    /// Whether the answer to `method path` is one the document describes; why not, if not.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), String> {
        let media = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let Some(op) = self
            .operations
            .iter()
            .find(|op| op.method == method && Self::matches(op, path))
        else {
            return self.unmatched(method, path, status, &media, body);
        };
        let what = format!("{} ({method} {path}) answered {status}", op.id);
        let answer = op
            .responses
            .get(&status)
            .ok_or_else(|| format!("{what}, a status the document does not list"))?;
        for header in &answer.headers {
            let Some(value) = headers.get(header.name.as_str()) else {
                if header.required {
                    return Err(format!("{what} without the header {}", header.name));
                }
                continue;
            };
            let text = value.to_str().unwrap_or_default();
            let value = if header.numeric {
                text.parse::<i64>().map_or(Value::Null, Value::from)
            } else {
                Value::String(text.to_owned())
            };
            if !header.schema.is_valid(&value) {
                return Err(format!(
                    "{what} with {}: {text:?}, not as documented",
                    header.name
                ));
            }
        }
        let (_, validator) = answer
            .content
            .iter()
            .find(|(m, _)| *m == media)
            .ok_or_else(|| format!("{what} in {media:?}, which the document does not list"))?;
        let instance = if media == "application/json" {
            serde_json::from_slice(body).map_err(|e| format!("{what}: not JSON ({e})"))?
        } else {
            Value::String(String::from_utf8_lossy(body).into_owned())
        };
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        // What the header's description says and a schema cannot: a 429 leaves `Retry-After`
        // out only for a request quota that never refills (BSE1011).
        if status == 429
            && headers.get("retry-after").is_none()
            && instance["error"]["code"] != "BSE1011"
        {
            return Err(format!("{what} without the header Retry-After"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{what}, not as documented:\n  {}\nbody: {instance}",
                errors.join("\n  ")
            ))
        }
    }

    /// Whether the answer to a request that is no operation is one such a request may get.
    fn unmatched(
        &self,
        method: &str,
        path: &str,
        status: u16,
        media: &str,
        body: &[u8],
    ) -> Result<(), String> {
        match &self.unmatched {
            Unmatched::Firewall => {
                let firewall =
                    status == 403 && media == "text/plain" && body == FIREWALL_BODY.as_bytes();
                firewall.then_some(()).ok_or_else(|| {
                    format!("{method} {path} is no operation, so only the firewall's 403 may answer it; got {status} {media}")
                })
            }
            Unmatched::Error(error, statuses) => {
                let what = format!("{method} {path} is no operation, and answered {status}");
                if !statuses.contains(&status) {
                    return Err(format!("{what}, which only {statuses:?} may be"));
                }
                if media != "application/json" {
                    return Err(format!("{what} in {media:?}, not in the error envelope"));
                }
                let instance: Value =
                    serde_json::from_slice(body).map_err(|e| format!("{what}: not JSON ({e})"))?;
                error
                    .is_valid(&instance)
                    .then_some(())
                    .ok_or_else(|| format!("{what}, not in the error envelope: {instance}"))
            }
        }
    }
}

/// Whether `path` is served by the /v1 firewall and route table (the document itself is not).
pub fn is_v1(path: &str) -> bool {
    (path == "/v1" || path.starts_with("/v1/")) && path != "/v1/openapi.json"
}

/// Whether `path` is served by the management API's scope (its document is not).
pub fn is_management(path: &str) -> bool {
    (path == "/api/v1" || path.starts_with("/api/v1/")) && path != "/api/v1/openapi.json"
}

/// Fails the test unless the answer is documented, in the document of the API that served it.
pub fn assert_documented(method: &str, path: &str, status: u16, headers: &HeaderMap, body: &[u8]) {
    let (contract, counter) = if is_management(path) {
        (management_contract(), &CHECKED_MANAGEMENT)
    } else {
        (contract(), &CHECKED)
    };
    if let Err(why) = contract.check(method, path, status, headers, body) {
        panic!("{why}");
    }
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Checks a /v1 or management API response and hands it back whole for the test to read.
pub async fn checked(
    method: &reqwest::Method,
    path: &str,
    res: reqwest::Response,
) -> reqwest::Response {
    if !is_v1(path) && !is_management(path) {
        return res;
    }
    let (status, version, headers) = (res.status(), res.version(), res.headers().clone());
    let body = res.bytes().await.expect("response body");
    assert_documented(method.as_str(), path, status.as_u16(), &headers, &body);
    let mut rebuilt = http::Response::builder().status(status).version(version);
    if let Some(h) = rebuilt.headers_mut() {
        *h = headers;
    }
    reqwest::Response::from(rebuilt.body(body).expect("response"))
}

/// `send()` for a test: the request is sent, and a /v1 or management API answer checked against
/// its document.
pub trait SendChecked {
    fn send_checked(self) -> impl std::future::Future<Output = reqwest::Response>;
}

impl SendChecked for reqwest::RequestBuilder {
    async fn send_checked(self) -> reqwest::Response {
        let (client, req) = self.build_split();
        let req = req.expect("a valid request");
        let (method, path) = (req.method().clone(), req.url().path().to_owned());
        let res = client.execute(req).await.expect("request sent");
        checked(&method, &path, res).await
    }
}
