//! An appointment's payment (SPEC-2 §12): how it is paid and where that stands.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How an appointment is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FormaPagamento {
    /// By the patient's insurance plan (`convenio_id`).
    Convenio,
    /// Private pay, at the doctor's `valor_particular_centavos`.
    Particular,
}

/// Where an appointment's payment stands: `pendente` at booking, then `pago` or `isento`;
/// a `pago` may be `estornado` (refunded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusPagamento {
    /// Not settled yet.
    Pendente,
    /// Paid.
    Pago,
    /// Waived.
    Isento,
    /// Refunded after being paid.
    Estornado,
}

/// An appointment's payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Pagamento {
    /// How it is paid.
    pub forma: FormaPagamento,
    /// The plan, for `convenio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convenio_id: Option<String>,
    /// The amount in integer centavos, for `particular`: the doctor's price copied at
    /// booking (a later price change does not alter it); absent for `convenio` or when the
    /// doctor has no price set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 25000, minimum = 0)]
    pub valor_centavos: Option<u64>,
    /// Where it stands.
    pub status: StatusPagamento,
}
