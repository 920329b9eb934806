//! Embeds the page templates (`templates/web/`) in the binary, so `fedreport
//! serve` needs no template folder; `--dev-templates DIR` reloads them from a
//! folder instead while developing.

fn main() {
    minijinja_embed::embed_templates!("../../templates/web", &[".html"][..]);
}
