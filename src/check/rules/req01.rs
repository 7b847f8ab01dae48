//! REQ-01: a malformed request is refused with a 4xx or a statusCode other than 0 and 4,
//! never a 5xx.

use super::{Ans, w};
use crate::check::Finding;
use crate::spec::ReqId;

/// REQ-01 for the answer to a malformed request.
pub(crate) fn req01(ans: &Ans, evs: Vec<u64>) -> Finding {
    if ans.refused() && !ans.bad() {
        return Finding::pass(ReqId::Req01, format!("refused: {}", ans.describe()));
    }
    Finding::fail(
        ReqId::Req01,
        format!("malformed request answered {}", ans.describe()),
        w(
            "a 4xx or a statusCode other than 0 and 4, never a 5xx",
            ans.describe(),
            evs,
        ),
    )
}

/// REQ-01's "never a 5xx or statusCode 4" for the refusal of a request the contract
/// leaves open (SPEC §6.3, §6.12): a proper refusal is conformant and gives no finding
/// (nothing of REQ-01 is exercised by a body that is JSON with an operationName).
pub(crate) fn either_refused(
    refusal: &crate::model::Refusal,
    ans: &Ans,
    evs: Vec<u64>,
) -> Option<Finding> {
    ans.bad().then(|| {
        Finding::fail(
            ReqId::Req01,
            format!(
                "a request the contract leaves open was answered {}: either answer is conformant, never a 5xx or statusCode 4",
                ans.describe()
            ),
            w(
                format!("success, or a 4xx or statusCode other than 0 and 4 ({})", refusal.reason),
                ans.describe(),
                evs,
            ),
        )
    })
}
