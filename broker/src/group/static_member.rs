//! Leaving a consumer group, and static membership (`group.instance.id`) as Kafka's coordinator
//! handles it under KIP-848: an instance id belongs to one member at a time; a static member
//! that leaves with epoch -2 keeps its partitions (nobody else gets them) until a new member
//! with its instance id takes its place, assignment and all, or its session times out; a
//! member joining with an instance id still in use is UNRELEASED_INSTANCE_ID, and a request
//! from a member whose instance id another member took is FENCED_INSTANCE_ID.

use kafka_protocol::ResponseError;

use super::consumer::{unknown_member, Beat, BeatOutcome, ConsumerGroup, Refusal};

/// The member epoch of a static member that left temporarily.
const LEFT_STATIC: i32 = -2;

impl ConsumerGroup {
    /// The member that holds `instance`, if any.
    fn static_member(&self, instance: &str) -> Option<(String, i32)> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance))
            .map(|m| (m.id.clone(), m.position.epoch))
    }

    /// Checks a heartbeat's instance id; a join replaces a static member that left.
    pub(super) fn admit_static(&mut self, beat: &Beat) -> Result<(), Refusal> {
        let Some(instance) = beat.instance_id.as_deref() else {
            return Ok(());
        };
        let held = self.static_member(instance);
        if beat.epoch != 0 {
            return check_holder(held, instance, &beat.member_id);
        }
        let Some((old, epoch)) = held else {
            return Ok(());
        };
        if epoch != LEFT_STATIC {
            return Err(Refusal::new(
                ResponseError::UnreleasedInstanceId,
                format!("Static member {} with instance id {instance} cannot join the group because the instance id is owned by {old} member.", beat.member_id),
            ));
        }
        // The newcomer takes the old member's place: its partitions and target, at epoch 0.
        let Some(mut member) = self.members.remove(&old) else {
            return Ok(());
        };
        member.id.clone_from(&beat.member_id);
        member.position.epoch = 0;
        member.previous_epoch = 0;
        if let Some(target) = self.target.remove(&old) {
            self.target.insert(member.id.clone(), target);
        }
        tracing::info!(%instance, %old, new = %member.id, "static member replaced");
        self.members.insert(member.id.clone(), member);
        Ok(())
    }

    /// Epoch -1: the member leaves and its partitions are free at once. Epoch -2 from a static
    /// member: it keeps them, at epoch -2, for whoever rejoins with its instance id.
    pub(super) fn leave(&mut self, beat: Beat) -> Result<BeatOutcome, Refusal> {
        let id = beat.member_id;
        if let Some(instance) = beat.instance_id.as_deref() {
            check_holder(self.static_member(instance), instance, &id)?;
        }
        match (beat.epoch, self.members.get_mut(&id)) {
            (LEFT_STATIC, Some(member)) if member.instance_id.is_some() => {
                member.position.epoch = LEFT_STATIC;
                member.position.revoking.clear();
                member.revoke_deadline = None;
            }
            _ => {
                self.remove(&id).ok_or_else(|| unknown_member(&id))?;
            }
        }
        tracing::debug!(member = %id, epoch = beat.epoch, "member left the consumer group");
        Ok(BeatOutcome {
            member_id: id,
            epoch: beat.epoch,
            assignment: None,
        })
    }
}

/// Kafka's `throwIfStaticMemberIsUnknown` and `throwIfInstanceIdIsFenced`.
fn check_holder(
    held: Option<(String, i32)>,
    instance: &str,
    member_id: &str,
) -> Result<(), Refusal> {
    let (holder, _) = held.ok_or_else(|| {
        Refusal::new(
            ResponseError::UnknownMemberId,
            format!("Instance id {instance} is unknown."),
        )
    })?;
    if holder != member_id {
        return Err(Refusal::new(
            ResponseError::FencedInstanceId,
            format!("Static member {member_id} with instance id {instance} was fenced by member {holder}."),
        ));
    }
    Ok(())
}
