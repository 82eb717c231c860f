//! The orders domain: what an order is and what makes one valid. No I/O here.
//!
//! Orders arrive as JSON from outside (HTTP bodies, Kafka messages), so they are checked
//! field by field from a `serde_json::Value`, collecting every fault with its path, e.g.
//! `products[0].price`, for the problem+json answer.

use serde::Serialize;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::money::Money;

/// One field at fault: `field` is a path such as `products[0].price`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Where an order is in its lifecycle: pending → confirmed → shipped → delivered, or cancelled.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Self::Pending,
        Self::Confirmed,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.name() == s)
    }

    /// The lifecycle pending → confirmed → shipped → delivered moves forward only, and may
    /// skip steps (the seed's walk-through ships a pending order). Cancelling is possible
    /// until the order ships. Setting the current status again is a no-op, not an error.
    pub fn allowed_next(self) -> Vec<Status> {
        let forward = [
            Self::Pending,
            Self::Confirmed,
            Self::Shipped,
            Self::Delivered,
        ];
        let mut next: Vec<Status> = match forward.iter().position(|s| *s == self) {
            Some(i) => forward[i + 1..].to_vec(),
            None => Vec::new(),
        };
        if matches!(self, Self::Pending | Self::Confirmed) {
            next.push(Self::Cancelled);
        }
        next
    }

    pub fn can_move_to(self, to: Status) -> bool {
        self == to || self.allowed_next().contains(&to)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Product {
    #[schema(min_length = 1, max_length = 255, example = "prod-1")]
    pub id: String,
    #[schema(min_length = 1, max_length = 255, example = "Product 1")]
    pub name: String,
    pub price: Money,
    #[schema(minimum = 1, example = 2)]
    pub quantity: u32,
}

/// An order as published on Kafka and stored by the Orders API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    #[schema(
        min_length = 1,
        max_length = 255,
        example = "order-0193a8f2c4d07c3e9b1f5a6d7e8f9a0b"
    )]
    pub id: String,
    #[schema(min_length = 1, max_length = 255, example = "user123")]
    pub user_id: String,
    #[schema(min_items = 1)]
    pub products: Vec<Product>,
    /// Must equal the sum of price × quantity, to the cent.
    pub total_amount: Money,
    pub status: Status,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub updated_at: Option<String>,
}

/// What a client sends to create an order.
#[derive(Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct NewOrder {
    #[schema(min_length = 1, max_length = 255, example = "user123")]
    pub user_id: String,
    #[schema(min_items = 1)]
    pub products: Vec<Product>,
    /// Must equal the sum of price × quantity, to the cent.
    pub total_amount: Money,
}

pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A fresh order id: time-ordered and unique across producer instances.
pub fn new_order_id() -> String {
    format!("order-{}", uuid::Uuid::now_v7().simple())
}

/// The longest text field, in characters: ids and names, not documents. It also keeps every
/// stored value well inside what a database index takes (PostgreSQL's b-tree: about 2.7 KB).
pub const MAX_TEXT: usize = 255;

/// Why a text field's value is refused, if it is. Control characters (NUL among them, which
/// PostgreSQL's text refuses) have no place in an id or a name.
pub fn text_problem(s: &str) -> Option<String> {
    if s.chars().count() > MAX_TEXT {
        Some(format!("must be at most {MAX_TEXT} characters"))
    } else if s.chars().any(char::is_control) {
        Some("must not contain control characters".into())
    } else if s.trim().is_empty() {
        Some("must not be empty".into())
    } else {
        None
    }
}

fn non_empty_string(
    obj: &Map<String, Value>,
    field: &str,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> String {
    match obj.get(field) {
        Some(Value::String(s)) => match text_problem(s) {
            None => s.clone(),
            Some(why) => {
                errors.push(FieldError::new(path, why));
                String::new()
            }
        },
        None | Some(Value::Null) => {
            errors.push(FieldError::new(path, "is required"));
            String::new()
        }
        Some(_) => {
            errors.push(FieldError::new(path, "must be a string"));
            String::new()
        }
    }
}

fn money(obj: &Map<String, Value>, field: &str, path: &str, errors: &mut Vec<FieldError>) -> Money {
    match obj.get(field) {
        None | Some(Value::Null) => {
            errors.push(FieldError::new(path, "is required"));
            Money::ZERO
        }
        Some(v) => Money::from_json(v).unwrap_or_else(|e| {
            errors.push(FieldError::new(path, e.to_string()));
            Money::ZERO
        }),
    }
}

fn product(value: &Value, path: &str, errors: &mut Vec<FieldError>) -> Product {
    let Value::Object(obj) = value else {
        errors.push(FieldError::new(path, "must be an object"));
        return Product {
            id: String::new(),
            name: String::new(),
            price: Money::ZERO,
            quantity: 0,
        };
    };
    let id = non_empty_string(obj, "id", &format!("{path}.id"), errors);
    let name = non_empty_string(obj, "name", &format!("{path}.name"), errors);
    let price = money(obj, "price", &format!("{path}.price"), errors);
    let quantity = match obj.get("quantity") {
        Some(Value::Number(n)) => match n.as_u64().and_then(|q| u32::try_from(q).ok()) {
            Some(q) if q > 0 => q,
            _ => {
                errors.push(FieldError::new(
                    format!("{path}.quantity"),
                    "must be a positive whole number",
                ));
                0
            }
        },
        None | Some(Value::Null) => {
            errors.push(FieldError::new(format!("{path}.quantity"), "is required"));
            0
        }
        Some(_) => {
            errors.push(FieldError::new(
                format!("{path}.quantity"),
                "must be a positive whole number",
            ));
            0
        }
    };
    Product {
        id,
        name,
        price,
        quantity,
    }
}

/// Checks `products` and returns them with their exact sum.
pub fn products(
    value: Option<&Value>,
    errors: &mut Vec<FieldError>,
) -> (Vec<Product>, Option<Money>) {
    let list = match value {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => {
            errors.push(FieldError::new(
                "products",
                "must contain at least one product",
            ));
            return (Vec::new(), None);
        }
        None | Some(Value::Null) => {
            errors.push(FieldError::new("products", "is required"));
            return (Vec::new(), None);
        }
        Some(_) => {
            errors.push(FieldError::new("products", "must be an array"));
            return (Vec::new(), None);
        }
    };
    let before = errors.len();
    let products: Vec<Product> = list
        .iter()
        .enumerate()
        .map(|(i, p)| product(p, &format!("products[{i}]"), errors))
        .collect();
    if errors.len() > before {
        return (products, None);
    }
    let sum = products.iter().try_fold(Money::ZERO, |acc, p| {
        p.price
            .checked_mul(p.quantity)
            .and_then(|line| acc.checked_add(line))
    });
    if sum.is_none() {
        errors.push(FieldError::new("products", "the total is too large"));
    }
    (products, sum)
}

/// The rule every order obeys: `totalAmount` is the sum of price × quantity, to the cent.
pub fn check_total(total: Money, sum: Option<Money>, errors: &mut Vec<FieldError>) {
    if let Some(sum) = sum {
        if sum != total {
            errors.push(FieldError::new(
                "totalAmount",
                format!("must equal the sum of price × quantity ({sum}), not {total}"),
            ));
        }
    }
}

fn object<'a>(value: &'a Value, errors: &mut Vec<FieldError>) -> Option<&'a Map<String, Value>> {
    let obj = value.as_object();
    if obj.is_none() {
        errors.push(FieldError::new("", "the body must be a JSON object"));
    }
    obj
}

impl NewOrder {
    pub fn from_json(value: &Value) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let Some(obj) = object(value, &mut errors) else {
            return Err(errors);
        };
        let user_id = non_empty_string(obj, "userId", "userId", &mut errors);
        let (products, sum) = products(obj.get("products"), &mut errors);
        let total_amount = money(obj, "totalAmount", "totalAmount", &mut errors);
        check_total(total_amount, sum, &mut errors);
        if errors.is_empty() {
            Ok(Self {
                user_id,
                products,
                total_amount,
            })
        } else {
            Err(errors)
        }
    }

    pub fn into_order(self, id: String) -> Order {
        Order {
            id,
            user_id: self.user_id,
            products: self.products,
            total_amount: self.total_amount,
            status: Status::Pending,
            created_at: now_rfc3339(),
            updated_at: None,
        }
    }
}

impl Order {
    /// A whole order as published on Kafka: the new-order rules plus id, status and dates.
    pub fn from_json(value: &Value) -> Result<Self, Vec<FieldError>> {
        let new = NewOrder::from_json(value);
        let mut errors = new.as_ref().err().cloned().unwrap_or_default();
        let Some(obj) = value.as_object() else {
            return Err(errors);
        };
        let id = non_empty_string(obj, "id", "id", &mut errors);
        let status = match obj
            .get("status")
            .and_then(Value::as_str)
            .and_then(Status::parse)
        {
            Some(s) => s,
            None => {
                errors.push(FieldError::new(
                    "status",
                    "must be one of pending, confirmed, shipped, delivered, cancelled",
                ));
                Status::Pending
            }
        };
        let created_at = non_empty_string(obj, "createdAt", "createdAt", &mut errors);
        if !created_at.is_empty() && OffsetDateTime::parse(&created_at, &Rfc3339).is_err() {
            errors.push(FieldError::new(
                "createdAt",
                "must be an RFC 3339 date-time",
            ));
        }
        let updated_at = match obj.get("updatedAt") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => Some(s.clone()),
            Some(_) => {
                errors.push(FieldError::new(
                    "updatedAt",
                    "must be an RFC 3339 date-time or null",
                ));
                None
            }
        };
        match new {
            Ok(new) if errors.is_empty() => Ok(Order {
                status,
                created_at,
                updated_at,
                ..new.into_order(id)
            }),
            _ => Err(errors),
        }
    }

    pub fn item_count(&self) -> u64 {
        self.products.iter().map(|p| u64::from(p.quantity)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed_body() -> Value {
        json!({"userId": "user123", "products": [{"id": "prod-1", "name": "Product 1", "price": 19.99, "quantity": 2}], "totalAmount": 39.98})
    }

    #[test]
    fn accepts_the_seed_order() {
        let order = NewOrder::from_json(&seed_body())
            .expect("valid")
            .into_order(new_order_id());
        assert_eq!(order.total_amount, Money::from_cents(3998));
        assert_eq!(order.status, Status::Pending);
        let again =
            Order::from_json(&serde_json::to_value(&order).expect("json")).expect("round trip");
        assert_eq!(again, order);
        let mut stored = serde_json::to_value(&order).expect("json");
        stored["updatedAt"] = json!("");
        assert_eq!(
            Order::from_json(&stored).expect_err("invalid")[0].field,
            "updatedAt",
            "dates are checked like createdAt"
        );
    }

    #[test]
    fn lists_every_field_at_fault() {
        let body = json!({"userId": "", "products": [{"id": "p", "name": "n", "price": 1.234, "quantity": 0}], "totalAmount": "x"});
        let fields: Vec<String> = NewOrder::from_json(&body)
            .expect_err("invalid")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "userId",
                "products[0].price",
                "products[0].quantity",
                "totalAmount"
            ]
        );
    }

    #[test]
    fn ids_and_names_are_short_text_without_control_characters() {
        for (user, why) in [
            ("x".repeat(MAX_TEXT + 1), "at most 255"),
            ("ann\u{0}".to_string(), "control characters"),
            ("ann\nbob".to_string(), "control characters"),
        ] {
            let mut body = seed_body();
            body["userId"] = json!(user);
            body["products"][0]["name"] = json!(user);
            let errors = NewOrder::from_json(&body).expect_err("refused");
            let fields: Vec<(&str, &str)> = errors
                .iter()
                .map(|e| (e.field.as_str(), e.message.as_str()))
                .collect();
            assert_eq!(fields.len(), 2, "{fields:?}");
            assert!(fields.iter().all(|(_, m)| m.contains(why)), "{fields:?}");
        }
        let mut body = seed_body();
        body["userId"] = json!("é".repeat(MAX_TEXT));
        assert!(NewOrder::from_json(&body).is_ok(), "characters, not bytes");
    }

    #[test]
    fn total_must_match_to_the_cent() {
        let mut body = seed_body();
        body["totalAmount"] = json!(39.97);
        let errors = NewOrder::from_json(&body).expect_err("invalid");
        assert_eq!(errors[0].field, "totalAmount");
        assert!(errors[0].message.contains("39.98"), "{}", errors[0].message);
        let empty = json!({"userId": "u", "products": [], "totalAmount": 0});
        assert_eq!(
            NewOrder::from_json(&empty).expect_err("invalid")[0].field,
            "products"
        );
    }

    #[test]
    fn lifecycle_moves_forward_and_cancels_before_shipping() {
        assert!(Status::Pending.can_move_to(Status::Shipped));
        assert!(Status::Confirmed.can_move_to(Status::Cancelled));
        assert!(!Status::Shipped.can_move_to(Status::Cancelled));
        assert!(!Status::Delivered.can_move_to(Status::Pending));
        assert!(Status::Cancelled.allowed_next().is_empty());
    }
}
