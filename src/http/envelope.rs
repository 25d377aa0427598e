//! The success envelope (docs/api.md, "Envelopes").

use serde::Serialize;

use crate::domain::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Page {
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

pub fn success_body(
    request_id: &str,
    message: &str,
    now: Timestamp,
    data: &(impl Serialize + ?Sized),
    page: Option<Page>,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct Body<'a, D: Serialize + ?Sized> {
        status: &'static str,
        request_id: &'a str,
        message: &'a str,
        timestamp: String,
        data: &'a D,
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        page: Option<Page>,
    }
    let body = Body {
        status: "success",
        request_id,
        message,
        timestamp: now.to_rfc3339(),
        data,
        page,
    };
    serde_json::to_vec(&body).unwrap_or_default()
}
