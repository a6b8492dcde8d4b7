"""A share of one stage's documents, rendered on whichever worker of the pool takes the run."""

from __future__ import annotations

from prefect import flow

from tasks.documents import render_document_share


@flow(name="render-documents", flow_run_name="{stage} documents {share}/{shares}")
def render_documents(cycle_id: int, stage: str, out_dir: str, share: int, shares: int) -> int:
    """The stage's documents whose place in the plan is `share` modulo `shares`; the stage records them all."""
    return render_document_share(cycle_id, stage, out_dir, share, shares)
