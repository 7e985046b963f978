"""msubmit: submit the ready steps of a study. The core is msubmit.core (submit_study, update_settings)."""
