//! Creating rules the way the monitor does for `ceph osd crush rule
//! create-replicated|create-erasure`, and counting the failure domains a
//! rule could choose among (an EC pool needs one per shard).

use crate::error::CrushError;
use crate::map::{CrushMap, SHADOW_SEP};
use crate::rule::{ChooseMode, Rule, RuleType, Step};

impl CrushMap {
    /// Creates a replicated rule (`osd crush rule create-replicated NAME ROOT
    /// FAILURE_DOMAIN [CLASS]`): one item per failure domain. Returns its id.
    pub fn create_replicated_rule(
        &mut self,
        name: &str,
        root: &str,
        failure_domain: &str,
        class: Option<&str>,
    ) -> Result<u32, CrushError> {
        let (take, type_id) = self.rule_target(name, root, failure_domain, class)?;
        let choose = Step::Choose {
            mode: ChooseMode::Firstn,
            leaf: type_id != 0,
            count: 0,
            type_id,
        };
        self.add_rule(
            name,
            RuleType::Replicated,
            1,
            10,
            vec![Step::Take(take), choose, Step::Emit],
        )
    }

    /// Creates an erasure rule with Ceph's shape: generous retries, then one
    /// device per failure domain with stable (`indep`) positions.
    pub fn create_erasure_rule(
        &mut self,
        name: &str,
        root: &str,
        failure_domain: &str,
        class: Option<&str>,
    ) -> Result<u32, CrushError> {
        let (take, type_id) = self.rule_target(name, root, failure_domain, class)?;
        let choose = Step::Choose {
            mode: ChooseMode::Indep,
            leaf: type_id != 0,
            count: 0,
            type_id,
        };
        let steps = vec![
            Step::SetChooseleafTries(5),
            Step::SetChooseTries(100),
            Step::Take(take),
            choose,
            Step::Emit,
        ];
        self.add_rule(name, RuleType::Erasure, 3, 20, steps)
    }

    fn rule_target(
        &self,
        name: &str,
        root: &str,
        failure_domain: &str,
        class: Option<&str>,
    ) -> Result<(i32, i32), CrushError> {
        self.check_name(name)?;
        if self.rule_by_name(name).is_some() {
            return Err(CrushError::exists("rule", name));
        }
        self.take_for(root, failure_domain, class)
    }

    /// How many failure domains (items of type `failure_domain`, devices
    /// for type 0) with weight lie under `root`, counting only OSDs of
    /// `class` when given: the most distinct places a rule taking that
    /// root and choosing that type can give.
    pub fn failure_domains(
        &self,
        root: &str,
        failure_domain: &str,
        class: Option<&str>,
    ) -> Result<usize, CrushError> {
        let (take, type_id) = self.take_for(root, failure_domain, class)?;
        Ok(self.weighted_items_of_type(take, type_id))
    }

    fn weighted_items_of_type(&self, bucket: i32, type_id: i32) -> usize {
        let Some(b) = self.bucket(bucket) else {
            return 0;
        };
        b.items
            .iter()
            .zip(&b.weights)
            .filter(|(_, w)| **w > 0)
            .map(|(&item, _)| {
                if item >= 0 {
                    usize::from(type_id == 0)
                } else if self.bucket(item).is_some_and(|c| c.type_id == type_id) {
                    1
                } else {
                    self.weighted_items_of_type(item, type_id)
                }
            })
            .sum()
    }

    /// The bucket a rule takes (the class's shadow of `root` with a
    /// class) and the type id of `failure_domain`.
    fn take_for(
        &self,
        root: &str,
        failure_domain: &str,
        class: Option<&str>,
    ) -> Result<(i32, i32), CrushError> {
        let root_id = self
            .item_id(root)
            .filter(|i| *i < 0 && !root.contains(SHADOW_SEP))
            .ok_or_else(|| CrushError::not_found("bucket", root))?;
        let type_id = self
            .type_id(failure_domain)
            .ok_or_else(|| CrushError::not_found("type", failure_domain))?;
        let take = match class {
            None => root_id,
            Some(c) => {
                let cid = self
                    .class_id(c)
                    .ok_or_else(|| CrushError::not_found("device class", c))?;
                *self
                    .class_buckets
                    .get(&root_id)
                    .and_then(|m| m.get(&cid))
                    .ok_or_else(|| {
                        CrushError::Invalid(format!("root {root} has no shadow tree for class {c}"))
                    })?
            }
        };
        Ok((take, type_id))
    }

    fn add_rule(
        &mut self,
        name: &str,
        rule_type: RuleType,
        min_size: u32,
        max_size: u32,
        steps: Vec<Step>,
    ) -> Result<u32, CrushError> {
        let id = (0..).find(|i| self.rule(*i).is_none()).expect("ids remain");
        let rule = Rule {
            id,
            name: name.to_string(),
            rule_type,
            min_size,
            max_size,
            steps,
        };
        self.edit(|m| m.insert_rule(rule))?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use crate::map::CrushMap;

    #[test]
    fn failure_domains_count_weighted_places_under_the_root() {
        let mut m = CrushMap::new();
        for (id, host, class) in [
            (0, "a", "hdd"),
            (1, "a", "ssd"),
            (2, "b", "ssd"),
            (3, "c", "hdd"),
        ] {
            m.add_device(
                id,
                &format!("osd.{id}"),
                0x10000,
                &[("host", host), ("root", "default")],
            )
            .unwrap();
            m.set_device_class(&format!("osd.{id}"), Some(class))
                .unwrap();
        }
        assert_eq!(m.failure_domains("default", "host", None).unwrap(), 3);
        assert_eq!(m.failure_domains("default", "osd", None).unwrap(), 4);
        assert_eq!(
            m.failure_domains("default", "host", Some("ssd")).unwrap(),
            2
        );
        m.reweight_item("osd.3", 0).unwrap();
        assert_eq!(
            m.failure_domains("default", "host", None).unwrap(),
            2,
            "a host whose OSDs weigh nothing holds no shard"
        );
        let e = m.failure_domains("nowhere", "host", None).unwrap_err();
        assert_eq!(e.to_string(), "bucket nowhere does not exist");
        let e = m.failure_domains("default", "shelf", None).unwrap_err();
        assert_eq!(e.to_string(), "type shelf does not exist");
    }
}
