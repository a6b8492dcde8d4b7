"""Excel workbooks in and out: the documented formats, the reader/validator and the template writer."""
