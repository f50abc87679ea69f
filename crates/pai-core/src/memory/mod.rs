//! Memory policy: what the user explicitly asked to remember or forget. The
//! extraction pipeline consults this before asking any model, so an explicit
//! request is obeyed deterministically.

pub mod explicit;
