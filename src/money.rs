//! Exact money: integer cents. JSON carries it as a number with at most two decimals
//! (`19.99`); it is parsed from the number's text, never through f64 arithmetic.

use std::fmt;

use serde::{Serialize, Serializer};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a number")]
    NotANumber,
    #[error("must not be negative")]
    Negative,
    #[error("must have at most two decimal places")]
    TooPrecise,
    #[error("is too large")]
    TooLarge,
}

/// In OpenAPI: a JSON number with at most two decimals.
impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .minimum(Some(0))
            .multiple_of(Some(0.01))
            .description(Some("An amount with at most two decimals, e.g. 19.99"))
            .examples([serde_json::json!(39.98)])
            .into()
    }
}

impl utoipa::ToSchema for Money {}

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_cents(cents: i64) -> Self {
        Self(cents)
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    /// Parses a JSON number such as `19.99`, `20`, `1e2` exactly.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, MoneyError> {
        let serde_json::Value::Number(n) = value else {
            return Err(MoneyError::NotANumber);
        };
        Self::parse(&n.to_string())
    }

    fn parse(text: &str) -> Result<Self, MoneyError> {
        // serde_json prints a parsed number in its shortest exact form ("19.99", "1e+20").
        let (mantissa, exponent) = match text.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().map_err(|_| MoneyError::NotANumber)?),
            None => (text, 0),
        };
        let negative = mantissa.starts_with('-');
        let digits = mantissa.trim_start_matches('-');
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let frac = frac.trim_end_matches('0');
        // value = whole.frac × 10^exponent; shift the decimal point into cents.
        let decimals = frac.len() as i32 - exponent;
        if decimals > 2 {
            return Err(MoneyError::TooPrecise);
        }
        let all_digits = format!("{whole}{frac}");
        let scale = 2 - decimals;
        if all_digits.len() as i32 + scale > 17 {
            return Err(MoneyError::TooLarge);
        }
        let mut cents: i64 = all_digits.parse().map_err(|_| MoneyError::NotANumber)?;
        for _ in 0..scale {
            cents = cents.checked_mul(10).ok_or(MoneyError::TooLarge)?;
        }
        if negative && cents != 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Self(cents))
    }

    pub fn checked_mul(self, quantity: u32) -> Option<Self> {
        self.0.checked_mul(i64::from(quantity)).map(Self)
    }

    pub fn checked_add(self, other: Money) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// Rounded half away from zero to the cent.
    pub fn div_round(self, by: u64) -> Self {
        if by == 0 {
            return Self::ZERO;
        }
        let by = by as i64;
        Self((self.0 + by / 2) / by)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Serialize for Money {
    /// A JSON number. Cents/100 as f64 prints as the exact two-decimal text for any amount
    /// below 2^53 cents: the shortest representation of the nearest double is that text.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0 as f64 / 100.0)
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_exactly() {
        assert_eq!(Money::from_json(&json!(19.99)), Ok(Money(1999)));
        assert_eq!(Money::from_json(&json!(39.98)), Ok(Money(3998)));
        assert_eq!(Money::from_json(&json!(20)), Ok(Money(2000)));
        assert_eq!(Money::from_json(&json!(0.1)), Ok(Money(10)));
        assert_eq!(Money::from_json(&json!(1e2)), Ok(Money(10000)));
        assert_eq!(Money::from_json(&json!(0)), Ok(Money(0)));
    }

    #[test]
    fn refuses_what_is_not_money() {
        assert_eq!(
            Money::from_json(&json!(19.999)),
            Err(MoneyError::TooPrecise)
        );
        assert_eq!(Money::from_json(&json!(-1)), Err(MoneyError::Negative));
        assert_eq!(
            Money::from_json(&json!("19.99")),
            Err(MoneyError::NotANumber)
        );
        assert_eq!(Money::from_json(&json!(1e300)), Err(MoneyError::TooLarge));
    }

    #[test]
    fn sums_like_a_till_and_prints_two_decimals() {
        // 0.1 + 0.2 in f64 is 0.30000000000000004; in cents it is 30.
        let sum = Money(10).checked_add(Money(20)).expect("no overflow");
        assert_eq!(serde_json::to_string(&sum).expect("json"), "0.3");
        assert_eq!(serde_json::to_string(&Money(3998)).expect("json"), "39.98");
        assert_eq!(Money(1999).checked_mul(3), Some(Money(5997)));
        assert_eq!(Money(1000).div_round(3), Money(333));
        assert_eq!(Money(1999).to_string(), "19.99");
    }
}
