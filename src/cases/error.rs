//! Why case generation failed.

/// Why cases could not be generated (a harness error: the schemas or their generators
/// cannot give what a case family needs).
#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    /// The schema generators could not be built.
    #[error(transparent)]
    Schema(#[from] crate::schema::SchemaError),
    /// The valid complete-request generator failed.
    #[error("generator for complete-request failed: {0}")]
    Generator(String),
    /// The invalid complete-request generator failed.
    #[error("invalid generator for complete-request failed: {0}")]
    InvalidGenerator(String),
    /// No drawn valid body had the wanted shape.
    #[error("the complete-request generator never produced the wanted shape in 2000 draws")]
    NeverValid,
    /// No drawn invalid body broke the wanted rule.
    #[error("the invalid complete-request generator never broke the wanted rule in 5000 draws")]
    NeverInvalid,
    /// The schema the coverage phase reads is not loaded.
    #[error("schema `{0}` is not loaded")]
    SchemaNotLoaded(&'static str),
    /// The schema has no `properties` object.
    #[error("schema `{0}`: no `properties` object")]
    NoProperties(&'static str),
    /// The schema has no required const property (the operation's name).
    #[error("schema `{0}`: no required const property")]
    NoOperationProperty(&'static str),
}

impl From<CasesError> for String {
    fn from(e: CasesError) -> String {
        e.to_string()
    }
}
