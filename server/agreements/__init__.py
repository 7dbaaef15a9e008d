"""Mediation agreements (调解协议书) and judicial-confirmation rulings (民事裁定书(司法确认)).

The modules here each do one thing: ``terms`` validates and hashes what the mediator enters,
``templates`` keeps the versioned document templates, ``documents`` renders them to HTML,
``fonts`` prepares the embedded CJK font, ``pdf`` renders and ``pki`` signs and validates the
PDF, ``drafting``/``signing``/``sealing``/``confirmation`` are the workflow, ``verify`` the
public check and ``clerks`` the list and the streamed zip. Routes live in
``server.api.agreements`` and ``server.pages.agreement_pages``.
"""
