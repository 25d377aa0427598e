//! What a generation costs (docs/generation.md, "Prices"): a model's price, flat or per resolution,
//! and the estimate maths.

use std::collections::BTreeMap;

use super::field::{Invalid, invalid};
use super::model::{Model, Pricing};
use super::request::GenerateRequest;
use crate::domain::Money;

fn money(amount: f64) -> Money {
    Money((amount * 1000.0).round() as i64)
}

impl Pricing {
    /// The one price of a flat-priced model.
    pub fn flat(&self) -> Option<Money> {
        match self {
            Pricing::Flat(p) => Some(money(*p)),
            Pricing::Map(_) => None,
        }
    }

    /// The price of each resolution (and audio variant) of a model priced that way.
    pub fn by_resolution(&self) -> Option<BTreeMap<String, Money>> {
        match self {
            Pricing::Flat(_) => None,
            Pricing::Map(map) => Some(map.iter().map(|(k, v)| (k.clone(), money(*v))).collect()),
        }
    }
}

impl Model {
    /// Image: the price of one asset. Video: the price of one second at `resolution` with or
    /// without audio. `None` when the pricing map has no entry for it.
    pub fn unit_price(&self, resolution: Option<&str>, audio: bool) -> Option<Money> {
        match &self.pricing {
            Pricing::Flat(p) => Some(money(*p)),
            Pricing::Map(map) => {
                let res = resolution?;
                let variant = format!("{res}_{}", if audio { "audio" } else { "noaudio" });
                map.get(&variant)
                    .or_else(|| map.get(res))
                    .map(|p| money(*p))
            }
        }
    }
}

/// What a generation (or `count` of them) costs (docs/generation.md, "Prices").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    pub count: u32,
    pub cost_per_second: Option<Money>,
    pub duration: Option<u32>,
    pub resolution: Option<String>,
    pub per_generation: Money,
    pub total: Money,
}

/// Image: per generation = the model price. Video: per second = the price for the resolution
/// (and audio variant), per generation = per second × duration. Total = per generation × count.
pub fn estimate(
    model: &Model,
    count: u32,
    duration: Option<u32>,
    resolution: Option<&str>,
    audio: bool,
) -> Result<Estimate, Invalid> {
    if !model.is_video() {
        let price = model.unit_price(None, false).unwrap_or_default();
        return Ok(Estimate {
            count,
            cost_per_second: None,
            duration: None,
            resolution: None,
            per_generation: price,
            total: Money(price.thousandths() * i64::from(count)),
        });
    }
    let duration = duration
        .or_else(|| model.durations.first().copied())
        .unwrap_or(0);
    let resolution = model
        .resolution_or_default(resolution)
        .filter(|r| model.resolutions.contains(r))
        .ok_or_else(|| {
            invalid(
                "resolution",
                format!(
                    "resolution must be one of {}.",
                    model.resolutions.join(", ")
                ),
            )
        })?;
    let per_second = model
        .unit_price(Some(&resolution), audio)
        .ok_or_else(|| invalid("resolution", "No price is configured for this resolution."))?;
    let per_generation = Money(per_second.thousandths() * i64::from(duration));
    Ok(Estimate {
        count,
        cost_per_second: Some(per_second),
        duration: Some(duration),
        resolution: Some(resolution),
        per_generation,
        total: Money(per_generation.thousandths() * i64::from(count)),
    })
}

/// What a valid request costs: its outputs priced by the estimate maths.
pub fn cost_of(model: &Model, request: &GenerateRequest) -> Result<Money, Invalid> {
    estimate(
        model,
        request.output_number,
        request.duration,
        request.resolution.as_deref(),
        request.generate_audio.unwrap_or(false),
    )
    .map(|e| e.total)
}
