//! Integration tests of the actors crate: the overlay on a simulated network and over TLS, ReDiR, the
//! consensus simulation, the fuzz corpus, and the accelerator actor under a supervisor.

mod accelerator;
mod cbft_sim;
mod fuzz_corpus;
mod overlay_sim;
mod overlay_tls;
mod redir_sim;
