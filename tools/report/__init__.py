"""mreport: a study's status for people and programs. The core is mreport.core (build, report_doc)."""
