"""mreport: a study's status for people and programs. The core is mreport.core (report_studies, build, report_doc)."""
