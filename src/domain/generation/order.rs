//! Which providers a generation tries, and in what order: the model's, the fastest first, or the
//! client's own list (`generation_provider_order`).

use serde_json::{Map, Value};

use super::field::{Invalid, invalid, string};
use super::model::Model;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderOrder {
    Model,
    Fastest,
    Listed(Vec<String>),
}

pub(super) fn provider_order(
    fields: &Map<String, Value>,
    model: &Model,
) -> Result<ProviderOrder, Invalid> {
    let name = "generation_provider_order";
    let Some(order) = string(fields, name)? else {
        return Ok(ProviderOrder::Model);
    };
    if order.trim() == "fastest" {
        return Ok(ProviderOrder::Fastest);
    }
    let mut listed: Vec<String> = Vec::new();
    for p in order.split(',').map(str::trim) {
        if model.raw_model_id(p).is_none() {
            let served: Vec<&str> = model
                .providers
                .iter()
                .map(|p| p.provider.as_str())
                .collect();
            return Err(invalid(
                name,
                format!(
                    "{name} must be \"fastest\" or a comma list of providers serving {} ({}).",
                    model.identifier,
                    served.join(", ")
                ),
            ));
        }
        if listed.iter().any(|l| l == p) {
            return Err(invalid(name, format!("{name} names {p} twice.")));
        }
        listed.push(p.to_owned());
    }
    Ok(ProviderOrder::Listed(listed))
}

/// Providers to try, in order; `fastest` sorts by `score` = (recent success rate, mean latency).
pub fn resolve_order(
    order: &ProviderOrder,
    model: &Model,
    score: impl Fn(&str) -> (f64, f64),
) -> Vec<String> {
    let mut providers: Vec<String> = match order {
        ProviderOrder::Listed(list) => return list.clone(),
        _ => model.providers.iter().map(|p| p.provider.clone()).collect(),
    };
    if *order == ProviderOrder::Fastest {
        providers.sort_by(|a, b| {
            let (ra, la) = score(a);
            let (rb, lb) = score(b);
            rb.total_cmp(&ra).then(la.total_cmp(&lb))
        });
    }
    providers
}
