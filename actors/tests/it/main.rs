//! Integration tests of the actors crate's pure cores: the overlay on a simulated network, ReDiR.

mod cbft_sim;
mod fuzz_corpus;
mod overlay_sim;
mod overlay_tls;
mod redir_sim;
