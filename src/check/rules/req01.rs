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
