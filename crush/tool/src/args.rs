//! Command-line flags, named as crushtool names them (`--show-mappings` and
//! `--show_mappings` both work).

use clap::{ArgAction, Parser};

#[derive(Parser, Debug)]
#[command(
    name = "strata-crushtool",
    version,
    about = "Compile, decompile, edit and test CRUSH maps (crushtool-compatible).",
    long_about = "Compile, decompile, edit and test CRUSH maps, with crushtool's flags and output.\n\
Maps are read and written in crushtool's text form (what `crushtool -d` prints);\n\
placements are bit-identical to Ceph's.\n\n\
Examples:\n  strata-crushtool -i map.txt --test --show-mappings --rule 0 --num-rep 3 --min-x 0 --max-x 9\n  \
strata-crushtool -i map.txt --test --show-utilization --rule 0 --num-rep 3 --weight 4 0\n  \
strata-crushtool -i map.txt --compare new.txt\n  \
strata-crushtool -i map.txt --add-item 12 1.0 osd.12 --loc host node4 --loc root default -o new.txt"
)]
pub struct Args {
    /// Read the map from this text file.
    #[arg(short = 'i', long = "infn", value_name = "MAP")]
    pub input: Option<String>,
    /// Write the resulting map (canonical text) to this file.
    #[arg(short = 'o', long = "outfn", value_name = "FILE")]
    pub output: Option<String>,
    /// Check a text map and (with -o) write it in canonical form.
    #[arg(short = 'c', long = "compile", value_name = "MAP")]
    pub compile: Option<String>,
    /// Print a map in canonical text form (to -o, or standard output). With
    /// -i, prints the loaded map.
    #[arg(short = 'd', long = "decompile", value_name = "MAP", num_args = 0..=1, default_missing_value = "")]
    pub decompile: Option<String>,

    /// Map inputs through the rules and report.
    #[arg(long)]
    pub test: bool,
    /// Count inputs that map differently in OTHER (a movement preview).
    #[arg(long, value_name = "OTHER")]
    pub compare: Option<String>,
    #[arg(long, alias = "show_mappings")]
    pub show_mappings: bool,
    #[arg(long, alias = "show_statistics")]
    pub show_statistics: bool,
    #[arg(long, alias = "show_utilization")]
    pub show_utilization: bool,
    #[arg(long, alias = "show_utilization_all")]
    pub show_utilization_all: bool,
    #[arg(long, alias = "show_bad_mappings")]
    pub show_bad_mappings: bool,
    /// Rule id to test (all rules if omitted).
    #[arg(long, value_name = "ID")]
    pub rule: Option<u32>,
    /// Number of replicas to ask for (each rule's min_size..max_size if omitted).
    #[arg(long, alias = "num_rep", value_name = "N")]
    pub num_rep: Option<u32>,
    #[arg(long, alias = "min_rep", value_name = "N")]
    pub min_rep: Option<u32>,
    #[arg(long, alias = "max_rep", value_name = "N")]
    pub max_rep: Option<u32>,
    /// First input. As in crushtool, --min-x and --max-x only take effect
    /// together; otherwise the range is 0..1023.
    #[arg(long, alias = "min_x", value_name = "X", allow_negative_numbers = true)]
    pub min_x: Option<i32>,
    /// Last input (see --min-x).
    #[arg(long, alias = "max_x", value_name = "X", allow_negative_numbers = true)]
    pub max_x: Option<i32>,
    /// A single input (sets --min-x and --max-x).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub x: Option<i32>,
    /// Hash each input with this pool id first, as a cluster does for PGs.
    #[arg(long, alias = "pool_id", value_name = "POOL")]
    pub pool_id: Option<i32>,
    /// Override a device's reweight (0 = out, 1 = in); repeatable.
    #[arg(long, num_args = 2, value_names = ["DEV", "WEIGHT"], action = ArgAction::Append, allow_hyphen_values = true)]
    pub weight: Vec<String>,

    /// Override tunables for this run.
    #[arg(long, alias = "set_choose_local_tries", value_name = "N")]
    pub set_choose_local_tries: Option<u32>,
    #[arg(long, alias = "set_choose_local_fallback_tries", value_name = "N")]
    pub set_choose_local_fallback_tries: Option<u32>,
    #[arg(long, alias = "set_choose_total_tries", value_name = "N")]
    pub set_choose_total_tries: Option<u32>,
    #[arg(long, alias = "set_chooseleaf_descend_once", value_name = "N")]
    pub set_chooseleaf_descend_once: Option<u32>,
    #[arg(long, alias = "set_chooseleaf_vary_r", value_name = "N")]
    pub set_chooseleaf_vary_r: Option<u32>,
    #[arg(long, alias = "set_chooseleaf_stable", value_name = "N")]
    pub set_chooseleaf_stable: Option<u32>,
    #[arg(long, alias = "set_straw_calc_version", value_name = "N")]
    pub set_straw_calc_version: Option<u32>,
    /// Apply a named tunables profile (legacy, bobtail, firefly, hammer, jewel, optimal).
    #[arg(long, value_name = "PROFILE")]
    pub tunables_profile: Option<String>,

    /// Add device ID with CRUSH weight WEIGHT named NAME at --loc.
    #[arg(long, num_args = 3, value_names = ["ID", "WEIGHT", "NAME"])]
    pub add_item: Vec<String>,
    /// Move device NAME (id ID) to --loc with weight WEIGHT, adding it if new.
    #[arg(long, num_args = 3, value_names = ["ID", "WEIGHT", "NAME"])]
    pub update_item: Vec<String>,
    #[arg(long, value_name = "NAME")]
    pub remove_item: Option<String>,
    #[arg(long, num_args = 2, value_names = ["NAME", "WEIGHT"])]
    pub reweight_item: Vec<String>,
    /// Add an empty bucket NAME of TYPE (placed at --loc if given).
    #[arg(long, num_args = 2, value_names = ["NAME", "TYPE"])]
    pub add_bucket: Vec<String>,
    /// Move bucket NAME to --loc.
    #[arg(long = "move", value_name = "NAME")]
    pub move_item: Option<String>,
    /// A location level for --add-item, --update-item, --add-bucket, --move; repeatable.
    #[arg(long, num_args = 2, value_names = ["TYPE", "NAME"], action = ArgAction::Append)]
    pub loc: Vec<String>,
    /// Set device NAME's class.
    #[arg(long, num_args = 2, value_names = ["NAME", "CLASS"])]
    pub set_device_class: Vec<String>,
    /// Create a replicated rule NAME taking ROOT, one item per TYPE.
    #[arg(long, num_args = 3, value_names = ["NAME", "ROOT", "TYPE"])]
    pub create_replicated_rule: Vec<String>,
    /// Create an erasure rule NAME taking ROOT, one item per TYPE.
    #[arg(long, num_args = 3, value_names = ["NAME", "ROOT", "TYPE"])]
    pub create_erasure_rule: Vec<String>,
    /// Device class for the rule created by --create-*-rule.
    #[arg(long, value_name = "CLASS")]
    pub device_class: Option<String>,
}
