//! Resuming an interrupted import job from its last committed batch, as `dynex import --resume`
//! continues an interrupted file.

use std::path::PathBuf;

use diesel::prelude::*;

use crate::Dynex;
use crate::clock::now_ms;
use crate::error::CoreError;
use crate::jobs::import::{ImportOptions, committed_line};
use crate::jobs::table::{JobInfo, job_source};
use crate::schema::{dynex_job, dynex_job_reject};

impl Dynex {
    /// Claims the interrupted import job `id` to run it again from its last committed batch;
    /// returns the job (`running` again), the options to run it with and the kept upload.
    ///
    /// Refused ([`CoreError::Invalid`]) unless the job is an interrupted import that can be
    /// resumed ([`JobInfo::resumable`]); of two callers at once, one gets it. Rejected lines
    /// recorded after the last committed line are forgotten, as the resumed run reads those
    /// lines again.
    pub fn resume_job(&self, id: &str) -> Result<(JobInfo, ImportOptions, PathBuf), CoreError> {
        let job = self.job(id)?;
        let refuse = |why: &str| {
            Err(CoreError::Invalid(format!(
                "job `{id}` cannot be resumed: {why}"
            )))
        };
        if job.kind != "import" {
            return refuse("it is an export");
        }
        if job.state != "interrupted" {
            return refuse(&format!("it is {}, not interrupted", job.state));
        }
        let Some(resume) = self.job_resume(id)? else {
            return refuse(
                "it was all or nothing or a dry run, which keep nothing of an interrupted run",
            );
        };
        if !job.resumable {
            return refuse(
                "its upload is gone (an instance keeps the uploads it received until their \
                 jobs end)",
            );
        }
        let options = resume.options(id, true)?;
        let claim = diesel::update(
            dynex_job::table
                .filter(dynex_job::id.eq(id))
                .filter(dynex_job::state.eq("interrupted")),
        )
        .set((
            dynex_job::state.eq("running"),
            dynex_job::updated_ms.eq(now_ms()),
        ));
        // The writer lock before a connection, as everywhere: never a connection held while
        // waiting for the lock.
        let claimed = {
            let _writer = self.sqlite_writer();
            claim.execute(&mut *self.inner.db.conn()?)?
        };
        if claimed == 0 {
            return refuse("it is being resumed already");
        }
        // Lines after the last committed batch are read again and report their rejects again.
        let committed =
            committed_line(&mut *self.inner.db.conn()?, &job.entity, &job_source(id))?.unwrap_or(1);
        let forget = diesel::delete(
            dynex_job_reject::table
                .filter(dynex_job_reject::job_id.eq(id))
                .filter(dynex_job_reject::line.gt(i64::try_from(committed).unwrap_or(i64::MAX))),
        );
        {
            let _writer = self.sqlite_writer();
            forget.execute(&mut *self.inner.db.conn()?)?;
        }
        Ok((self.job(id)?, options, PathBuf::from(resume.upload)))
    }
}
