//! A generation's record: read, list, cancel, delete.

use super::not_found;
use crate::http::envelope::Page;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::v1::operation::{HandlerFuture, LIMIT, OFFSET};
use crate::http::v1::request::{V1Reply, V1Request};
use crate::service::ServiceError;
use crate::service::generations::{self, CancelError};
use crate::wire::generation::{
    GenerationCanceled, GenerationDeleted, GenerationListOut, GenerationRecord,
};

pub fn get_content(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let id = req.generation_id.clone().unwrap_or_default();
        let account_id = req.principal.key.account_id.clone();
        let lookup = id.clone();
        let g = req
            .state
            .store
            .run(move |db| generations::find_in(&db.read(), &account_id, &lookup))
            .await?
            .ok_or_else(|| not_found(&id))?;
        Ok(V1Reply::ok(
            "Generation retrieved successfully",
            GenerationRecord::of(&g, &req.origin()),
        ))
    })
}

pub fn list_content(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let limit = LIMIT.int(&req)?;
        let offset = OFFSET.int(&req)?;
        let account_id = req.principal.key.account_id.clone();
        let (rows, total) = req
            .state
            .store
            .run(move |db| generations::list(&db.read(), &account_id, limit, offset))
            .await?;
        let origin = req.origin();
        let data = GenerationListOut {
            generations: rows
                .iter()
                .map(|g| GenerationRecord::of(g, &origin))
                .collect(),
        };
        Ok(V1Reply::page(
            "Generations retrieved successfully",
            data,
            Page {
                total,
                limit,
                offset,
            },
        ))
    })
}

fn actor(req: &V1Request) -> String {
    format!("key:{}", req.principal.key.key_prefix)
}

pub fn cancel(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let id = req.generation_id.clone().unwrap_or_default();
        let (account_id, actor, now) = (req.principal.key.account_id.clone(), actor(&req), req.now);
        let target = id.clone();
        let canceled = req
            .state
            .store
            .run(move |db| {
                Ok::<_, ServiceError>(generations::cancel(db, &account_id, &target, &actor, now))
            })
            .await?;
        let canceled = match canceled {
            Ok(c) => c,
            Err(CancelError::NotFound) => return Err(not_found(&id)),
            Err(CancelError::NotCancelable(status)) => {
                return Err(ApiError::new(
                    ErrorCode::GenerationNotCancelable,
                    format!(
                        "The generation is {}; only pending or processing generations can be canceled.",
                        status.as_str()
                    ),
                )
                .detail("generation_status", status.as_str()));
            }
            Err(CancelError::Service(e)) => return Err(e.into()),
        };
        let sent = req.state.workers.stop(&id).await;
        Ok(V1Reply::ok(
            "Generation canceled",
            GenerationCanceled::of(id, sent, canceled.refunded),
        ))
    })
}

pub fn delete_content(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let id = req.generation_id.clone().unwrap_or_default();
        let (account_id, actor, now) = (req.principal.key.account_id.clone(), actor(&req), req.now);
        let target = id.clone();
        let deleted = req
            .state
            .store
            .run(move |db| generations::delete(db, &account_id, &target, &actor, now))
            .await?
            .ok_or_else(|| not_found(&id))?;
        if deleted.generation.status.in_flight() {
            req.state.workers.stop(&id).await;
        }
        let media = req.state.media.clone();
        let target = id.clone();
        let files_deleted = tokio::task::spawn_blocking(move || media.remove(&target))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(0);
        Ok(V1Reply::ok(
            "Generation deleted",
            GenerationDeleted {
                generation_id: id,
                files_deleted: files_deleted as u64,
            },
        ))
    })
}
