//! [`Group`]: a membership in a process group, for distributed meta-training (since 1.1).
use std::ffi::CString;
use std::fmt;
use std::ptr::{self, NonNull};

use crate::error::{check, Error, Result};
use crate::{ensure_abi, sys};

/// The timeout, in seconds, that a timeout of `0.0` means (`MAML_GROUP_DEFAULT_TIMEOUT`): the
/// rendezvous and every collective.
pub const GROUP_DEFAULT_TIMEOUT: f64 = sys::MAML_GROUP_DEFAULT_TIMEOUT;

/// A membership in a process group (`maml_group*`), left on drop.
///
/// Data-parallel meta-training over PyTorch's c10d: N processes (ranks) each adapt their share
/// of every meta-batch, and each step pools their contributions into the step one process would
/// take on the whole batch. Join with [`Group::join_env`] (under `torchrun`) or [`Group::join`],
/// then [`Model::attach`](crate::Model::attach) a model:
///
/// ```no_run
/// # fn shares() -> Vec<mamlpp::Tasks<'static>> { Vec::new() }
/// use mamlpp::{Config, Group, Model};
/// # fn main() -> mamlpp::Result<()> {
/// let group = Group::join_env(0.0)?;       // RANK, WORLD_SIZE, MASTER_ADDR, ... from torchrun
/// let mut model = Model::new(&Config::default())?;
/// model.attach(&group)?;                   // every rank now holds rank 0's model
/// for my_share in shares() {
///     model.meta_train_step(&my_share)?;   // collective: the step over every rank's tasks
/// }
/// # Ok(()) }
/// ```
///
/// Collective calls (joining, [`Model::attach`](crate::Model::attach), [`Group::allreduce_sum`],
/// and `meta_train_step` on an attached model) must be made by every rank in the same order;
/// each returns once all ranks have made it. A failed collective returns
/// [`Status::Distributed`](crate::Status) on the ranks that did not cause it. Dropping a group
/// leaves it at once, waiting for no other rank; a model still attached keeps the membership
/// until it is detached or dropped.
///
/// # Threads
/// `Group: Send + Sync`: the library serialises the collective calls of one process in the order
/// they arrive (which must then match across ranks), and the rank queries are cached here.
pub struct Group {
    ptr: NonNull<sys::maml_group>,
    rank: i32,
    world_size: i32,
    local_rank: i32,
}

// SAFETY: the library has no thread affinity and serialises the collective calls on one group
// (a mutex per group); the handle is freed only by Drop, which has the group to itself.
unsafe impl Send for Group {}
unsafe impl Sync for Group {}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: we own the handle; attached models keep their own reference (header).
        unsafe { sys::maml_group_free(self.ptr.as_ptr()) }
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("rank", &self.rank)
            .field("world_size", &self.world_size)
            .field("local_rank", &self.local_rank)
            .finish()
    }
}

impl Group {
    fn from_handle(ptr: *mut sys::maml_group) -> Result<Group> {
        let ptr = NonNull::new(ptr)
            .ok_or_else(|| Error::new(crate::Status::Internal, "library returned a NULL group"))?;
        let mut g = Group { ptr, rank: 0, world_size: 0, local_rank: 0 };
        // SAFETY: valid handle and out-pointers. On error, g drops and leaves the group.
        check(unsafe {
            sys::maml_group_rank(ptr.as_ptr(), &mut g.rank, &mut g.world_size, &mut g.local_rank)
        })?;
        Ok(g)
    }

    /// Joins the process group that torchrun describes in the environment: `RANK`,
    /// `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`, and `LOCAL_RANK` (optional, default `RANK`)
    /// (`maml_group_join_env`). Collective: returns once all ranks have joined.
    /// `timeout_seconds` bounds the rendezvous and every later collective: `0.0` means
    /// [`GROUP_DEFAULT_TIMEOUT`], otherwise 0.1 to 86400. Errors: `InvalidArgument` (a variable
    /// missing or malformed; the message names it), `Distributed` (the rendezvous failed or
    /// timed out), `Unsupported` (no c10d Gloo in this build).
    pub fn join_env(timeout_seconds: f64) -> Result<Group> {
        ensure_abi()?;
        let mut out = ptr::null_mut();
        // SAFETY: valid out-pointer.
        check(unsafe { sys::maml_group_join_env(timeout_seconds, &mut out) })?;
        Group::from_handle(out)
    }

    /// Joins a process group described explicitly (`maml_group_join`): rank 0 serves the
    /// rendezvous at `master_addr:master_port` and every rank connects to it. `rank` in
    /// `[0, world_size)`; `local_rank` is this rank's index on its machine (`None`: `rank`).
    /// Otherwise as [`Group::join_env`]; the library checks every value.
    pub fn join(
        master_addr: &str,
        master_port: i32,
        rank: i32,
        world_size: i32,
        local_rank: Option<i32>,
        timeout_seconds: f64,
    ) -> Result<Group> {
        ensure_abi()?;
        let addr = CString::new(master_addr)
            .map_err(|_| Error::invalid("master_addr contains a NUL byte"))?;
        let mut out = ptr::null_mut();
        // SAFETY: addr is NUL-terminated and lives through the call; valid out-pointer.
        check(unsafe {
            sys::maml_group_join(
                addr.as_ptr(),
                master_port,
                rank,
                world_size,
                local_rank.unwrap_or(-1),
                timeout_seconds,
                &mut out,
            )
        })?;
        Group::from_handle(out)
    }

    /// This process's rank, in `[0, world_size)` (`maml_group_rank`).
    pub fn rank(&self) -> i32 {
        self.rank
    }

    /// The number of ranks (`maml_group_rank`).
    pub fn world_size(&self) -> i32 {
        self.world_size
    }

    /// This rank's index on its machine, e.g. the CUDA device to use (`maml_group_rank`).
    pub fn local_rank(&self) -> i32 {
        self.local_rank
    }

    /// Sums `values` over every rank, in place, in double precision
    /// (`maml_group_allreduce_sum`; collective), e.g. for validation figures each rank computed
    /// on its share. 1 to 2^24 values, as many on every rank. An empty slice is
    /// `InvalidArgument` (and this rank does not take part).
    pub fn allreduce_sum(&self, values: &mut [f64]) -> Result<()> {
        let count =
            i64::try_from(values.len()).map_err(|_| Error::invalid("values: too many elements"))?;
        // SAFETY: the slice is valid for count values during the call; the library serialises
        // collectives on one group.
        check(unsafe {
            sys::maml_group_allreduce_sum(self.ptr.as_ptr(), values.as_mut_ptr(), count)
        })
    }

    /// The raw handle, for calling `sys` functions directly. It stays owned by `self`.
    pub fn as_ptr(&self) -> *const sys::maml_group {
        self.ptr.as_ptr()
    }

    pub(crate) fn raw(&self) -> *mut sys::maml_group {
        self.ptr.as_ptr()
    }
}
