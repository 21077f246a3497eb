"""The words of the dashboard and the report, in English and French (`[ui] language`).

Plain data, no engine: each word is written once as an (English, French) pair. Keys:

- interface words (`UI`): page titles, filters, buttons, notes, and a few sentence templates
  of the report whose `{fields}` are filled with `str.format`;
- `section.<name>`: the title of a result or part by its name (`SECTIONS`);
- `column.<name>`: a column header (`COLUMNS`); `model.<name>`: an attribution model (`MODELS`);
- the KPIs: French in `KPI_FR`, English from the catalogue itself (`kpi_label`).

A key missing in a language falls back to English, then to the key made readable.

>>> label("quality", "fr")
'Qualité des données'
>>> column_label("revenue", "fr"), column_label("rfm_segment"), kpi_label("average_basket", "fr")
("Chiffre d'affaires", 'RFM segment', 'Panier moyen')
>>> section_label("funnel", "fr"), model_label("last_touch", "fr")
('Tunnel de conversion', 'Dernier contact')
>>> label("not_a_key_yet", "fr")
'Not a key yet'
>>> label("more_rows", "fr").format(count="1 204")
'1 204 lignes de plus (--out en ligne de commande).'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from omnimetrics.errors import ConfigError

LANGUAGES = ("en", "fr")
"""The languages of `[ui] language`; the first is the default and the fallback."""

Pair = tuple[str, str]
"""(English, French)."""

UI: dict[str, Pair] = {
    # pages
    "overview": ("Overview", "Vue d'ensemble"),
    "channels": ("Channels", "Canaux"),
    "attribution": ("Attribution", "Attribution"),
    "journeys": ("Journeys", "Parcours"),
    "customers": ("Customers", "Clients"),
    "goals": ("Goals", "Objectifs"),
    "maturity": ("Maturity", "Maturité"),
    "quality": ("Data quality", "Qualité des données"),
    "value": ("Customer value", "Valeur client"),
    "experiments": ("Experiments", "Tests A/B"),
    "mix": ("Mix model", "Modèle de mix"),
    "dashboard": ("Dashboard", "Tableau de bord"),
    "report_title": ("omnimetrics report", "Rapport omnimetrics"),
    # filters
    "filters": ("Filters", "Filtres"),
    "since": ("From", "Du"),
    "until": ("To", "Au"),
    "channel": ("Channel", "Canal"),
    "campaign": ("Campaign", "Campagne"),
    "segment": ("Segment", "Segment"),
    # buttons and links
    "apply": ("Apply", "Appliquer"),
    "reset": ("Reset", "Réinitialiser"),
    "search": ("Search", "Rechercher"),
    "download_csv": ("Download CSV", "Télécharger en CSV"),
    # states and notes
    "not_available": ("Not available", "Non disponible"),
    "not_available_because": ("Not available: {reason}", "Non disponible\u00a0: {reason}"),
    "not_available_with_filters": (
        "Not available with these filters: {reason}",
        "Non disponible avec ces filtres\u00a0: {reason}",
    ),
    "no_data": ("No data", "Aucune donnée"),
    "nothing_yet": ("Nothing yet.", "Rien pour l'instant."),
    "missing_value": ("n/a", "n.d."),
    "computed_live": (
        "Computed live, not read from the last run.",
        "Calculé à la demande, non lu dans le dernier calcul.",
    ),
    "last_run": ("Last run", "Dernier calcul"),
    "no_run_yet": ("No run yet", "Aucun calcul pour l'instant"),
    "change_vs_previous": ("vs the month before", "vs le mois précédent"),
    "so_far": ("so far", "en cours"),
    "previous_period": ("Previous period", "Période précédente"),
    "more_rows": (
        "{count} more rows (--out with the CLI).",
        "{count} lignes de plus (--out en ligne de commande).",
    ),
    "made_at": ("Made {when}.", "Généré le {when}."),
    # the report
    "summary": ("Summary", "Synthèse"),
    "kpis_by_month": ("KPIs by month", "Indicateurs par mois"),
    "attribution_side_by_side": (
        "Attribution: the models side by side",
        "Attribution\u00a0: les modèles côte à côte",
    ),
    "omnichannel_maturity": ("Omnichannel maturity", "Maturité omnicanale"),
    "better": ("better", "favorable"),
    "worse": ("worse", "défavorable"),
    "points": ("points", "pts"),
    "change_sentence": (
        "{kpi} in {month}: {value} ({change} on the month before, {verdict}).",
        "{kpi} en {month}\u00a0: {value} ({change} par rapport au mois précédent, {verdict}).",
    ),
    "alert_sentence": (
        "Attention: {kpi} in {month} was {value}, outside its expected range ({low} to {high}).",
        "À surveiller\u00a0: {kpi} en {month} à {value}, hors de sa plage attendue "
        "({low} à {high}).",
    ),
    "quarantine_sentence": (
        "Data: {rows} rows are in quarantine; see the data quality section.",
        "Données\u00a0: {rows} lignes sont en quarantaine\u00a0; voir la section "
        "Qualité des données.",
    ),
    "goal_met": ("met", "atteint"),
    "goal_missed": ("missed", "manqué"),
    "goal_on_track": ("on track", "en bonne voie"),
    "goal_at_risk": ("at risk", "en danger"),
    "goal_unknown": ("unknown", "inconnu"),
    "what_changed": ("What changed", "Ce qui a changé"),
    "alert": ("Outside its expected range", "Hors de sa plage attendue"),
    "goal": ("Goal", "Objectif"),
    "person": ("Customer", "Client"),
    "person_placeholder": ("customer id, email or cookie", "identifiant client, e-mail ou cookie"),
    "no_data_in_view": ("No rows for these filters.", "Aucune ligne pour ces filtres."),
    "no_kpis_yet": ("No KPIs yet: {reason}", "Pas encore d'indicateurs\u00a0: {reason}"),
}
"""Interface words: `label(key, language)`."""

SECTIONS: dict[str, Pair] = {
    "tiles": ("Key figures", "Chiffres clés"),
    "kpis": ("KPIs", "Indicateurs clés"),
    "alerts": (
        "Alerts: KPIs outside their expected range",
        "Alertes\u00a0: indicateurs hors de leur plage attendue",
    ),
    "goals": ("Goals", "Objectifs"),
    "attribution": ("Credit by channel and model", "Attribution par canal et par modèle"),
    "shares": (
        "Share of credit by channel, model by model",
        "Part attribuée par canal, modèle par modèle",
    ),
    "disagreement": ("Where the models disagree", "Où les modèles divergent"),
    "agreement": ("Agreement between models", "Concordance entre modèles"),
    "roles": ("Who opens and who closes", "Qui ouvre, qui conclut"),
    "influence": (
        "Credit by sales channel and channel",
        "Attribution par canal de vente et canal marketing",
    ),
    "paths": ("Top conversion paths", "Principaux parcours de conversion"),
    "transitions": ("Channel transitions", "Enchaînements de canaux"),
    "funnel": ("Funnel", "Tunnel de conversion"),
    "exits": ("Where journeys without an order stop", "Où s'arrêtent les parcours sans commande"),
    "lengths": ("Touches per conversion journey", "Points de contact par parcours converti"),
    "time_to_convert": ("Time from first touch to order", "Délai du premier contact à la commande"),
    "ropo": (
        "Research online, purchase offline (and the reverse)",
        "Web-to-store (ROPO) et store-to-web",
    ),
    "segments": ("Customer segments", "Segments de clientèle"),
    "channel_mix": (
        "Omnichannel and single-channel customers",
        "Clients omnicanaux et monocanaux",
    ),
    "campaign_credit": ("Credit by campaign and model", "Attribution par campagne et par modèle"),
    "channel_value": (
        "Credited conversions, revenue, spend, ROAS and CAC by channel",
        "Conversions et chiffre d'affaires attribués, dépenses, ROAS et CAC par canal",
    ),
    "sales_channels": (
        "Sales channels (online and offline) by month",
        "Canaux de vente (en ligne et hors ligne) par mois",
    ),
    "dimensions": ("Maturity by dimension", "Maturité par dimension"),
    "maturity": ("Maturity indicators", "Indicateurs de maturité"),
    "progress": ("Progress", "Progression"),
    "models": ("What the data can support", "Ce que les données permettent"),
    "quality": ("Rows and latest time per table", "Lignes et dernière date par table"),
    "ingest": ("Ingest ledger by table", "Journal d'import par table"),
    "quarantine_reasons": ("Quarantined rows by reason", "Lignes en quarantaine par motif"),
    "quarantine": ("Quarantine", "Quarantaine"),
    "channels": ("Touchpoints by channel", "Points de contact par canal"),
    "unassigned": ("Touchpoints no rule matched", "Points de contact sans règle de canal"),
    "timeline": ("Customer timeline", "Historique du client"),
    "runs": ("Runs", "Historique des calculs"),
    "cohorts": ("Retention by acquisition cohort", "Rétention par cohorte d'acquisition"),
    "clv": ("Customer lifetime value", "Valeur vie client (CLV)"),
    "clv_params": ("Fitted parameters", "Paramètres estimés"),
    "clv_by_channel": (
        "Value and LTV/CAC by acquisition channel",
        "Valeur et LTV/CAC par canal d'acquisition",
    ),
    "clv_by_mix": (
        "Value by channel mix (raw, not causal)",
        "Valeur par profil de canaux (brute, non causale)",
    ),
    "clv_by_segment": ("Value by segment", "Valeur par segment"),
    "experiments": ("Tests and their variants", "Tests et leurs variantes"),
    "experiment_results": (
        "Each variant against control, by test and metric",
        "Chaque variante face au témoin, par test et indicateur",
    ),
    "mmm": ("Incremental sales and ROI by channel", "Ventes incrémentales et ROI par canal"),
    "mmm_decomposition": (
        "Weekly sales: base and channels",
        "Ventes hebdomadaires\u00a0: base et canaux",
    ),
    "mmm_response": ("Response curves", "Courbes de réponse"),
    "mmm_diagnostics": ("Fit diagnostics", "Diagnostics de l'ajustement"),
    "mmm_split": (
        "Effects on online and offline sales",
        "Effets sur les ventes en ligne et en magasin",
    ),
    "mmm_plans": (
        "The omnichannel plan against the same budget on one channel",
        "Le plan omnicanal face au même budget sur un seul canal",
    ),
    "reconcile": (
        "Attribution, mix model and experiments, channel by channel",
        "Attribution, modèle de mix et tests, canal par canal",
    ),
    "budget": ("Budget allocation", "Répartition du budget"),
    "budget_summary": (
        "Expected sales, current and optimised",
        "Ventes attendues, actuelles et optimisées",
    ),
    "experiment_srm": (
        "Sample ratio check (units against the planned split)",
        "Contrôle de répartition (unités face au partage prévu)",
    ),
    "clv_holdout": (
        "Predicted vs actual purchases after the calibration period",
        "Achats prédits et réels après la période de calibration",
    ),
}
"""Titles by result (or part) name: `section_label(name, language)`."""

COLUMNS: dict[str, Pair] = {
    # experiments
    "experiment": ("Test", "Test"),
    "variant": ("Variant", "Variante"),
    "control": ("Control", "Témoin"),
    "control_mean": ("Control mean", "Moyenne du témoin"),
    "variant_mean": ("Variant mean", "Moyenne de la variante"),
    "lift_abs": ("Lift", "Écart"),
    "lift_rel": ("Relative lift", "Écart relatif"),
    "ci_low": ("Interval low", "Intervalle bas"),
    "ci_high": ("Interval high", "Intervalle haut"),
    "rel_ci_low": ("Relative interval low", "Intervalle relatif bas"),
    "rel_ci_high": ("Relative interval high", "Intervalle relatif haut"),
    "p_value": ("p-value", "p-valeur"),
    "chance_to_win": ("Chance to beat control", "Probabilité de battre le témoin"),
    "expected_loss": ("Expected loss", "Perte espérée"),
    "seq_p_value": ("Always-valid p-value", "p-valeur séquentielle"),
    "srm_p_value": ("Sample ratio p-value", "p-valeur de répartition"),
    "decision": ("Decision", "Décision"),
    # kpis (and their alerts)
    "kpi": ("KPI", "Indicateur"),
    "period": ("Period", "Période"),
    "value": ("Value", "Valeur"),
    "persons": ("Persons", "Personnes"),
    "previous": ("Previous", "Précédent"),
    "change": ("Change", "Évolution"),
    "change_kind": ("Change type", "Type d'évolution"),
    "change_note": ("About the change", "Remarque sur l'évolution"),
    "flag": ("Flag", "Signal"),
    "suppressed": ("Suppressed", "Écarté"),
    "expected": ("Expected", "Attendu"),
    "low": ("Low", "Bas"),
    "high": ("High", "Haut"),
    "direction": ("Direction", "Sens"),
    "bad": ("Unfavourable", "Défavorable"),
    # dimensions of KPIs
    "channel": ("Channel", "Canal"),
    "campaign": ("Campaign", "Campagne"),
    "device": ("Device", "Appareil"),
    "sales_channel": ("Sales channel", "Canal de vente"),
    "fulfilment": ("Fulfilment", "Mode de livraison"),
    "store": ("Store", "Magasin"),
    "preceding_channel": ("Preceding channel", "Canal précédent"),
    # attribution and its parts
    "model": ("Model", "Modèle"),
    "conversions": ("Conversions", "Conversions"),
    "revenue": ("Revenue", "Chiffre d'affaires"),
    "share": ("Share", "Part"),
    "additive": ("Additive", "Additif"),
    "min_share": ("Lowest share", "Part minimale"),
    "lowest_model": ("Lowest model", "Modèle le plus bas"),
    "max_share": ("Highest share", "Part maximale"),
    "highest_model": ("Highest model", "Modèle le plus haut"),
    "largest_shift": ("Largest shift", "Écart maximal"),
    "model_a": ("Model A", "Modèle A"),
    "model_b": ("Model B", "Modèle B"),
    "spearman": ("Spearman correlation", "Corrélation de Spearman"),
    "kendall": ("Kendall correlation", "Corrélation de Kendall"),
    "top_channel_same": ("Same top channel", "Même canal en tête"),
    "touches": ("Touches", "Contacts"),
    "opening": ("Opening", "Ouverture"),
    "middle": ("Middle", "Milieu"),
    "closing": ("Closing", "Conclusion"),
    "only": ("Only touch", "Contact unique"),
    "early_share": ("Opening share", "Part en ouverture"),
    "middle_share": ("Middle share", "Part au milieu"),
    "late_share": ("Closing share", "Part en conclusion"),
    "only_share": ("Only-touch share", "Part en contact unique"),
    "role": ("Role", "Rôle"),
    "online_sale": ("Online sale", "Vente en ligne"),
    "online_touch": ("Online touch", "Contact en ligne"),
    "share_of_sales_channel": ("Share of sales channel", "Part du canal de vente"),
    # journeys and their parts
    "path": ("Path", "Parcours"),
    "non_conversions": ("Without order", "Sans commande"),
    "median_hours_to_convert": ("Median hours to order", "Délai médian de commande (h)"),
    "conversion_rate": ("Conversion rate", "Taux de conversion"),
    "method": ("Method", "Méthode"),
    "bound": ("Bound", "Borne"),
    "measure": ("Measure", "Mesure"),
    "window_days": ("Window (days)", "Fenêtre (jours)"),
    "orders": ("Orders", "Commandes"),
    "preceded": ("Preceded", "Précédées"),
    "coverage": ("Coverage", "Couverture"),
    "rate": ("Rate", "Taux"),
    "note": ("Note", "Remarque"),
    "next_channel": ("Next channel", "Canal suivant"),
    "transitions": ("Transitions", "Enchaînements"),
    "switch": ("Channel switch", "Changement de canal"),
    "step": ("Step", "Étape"),
    "median_hours_from_previous": (
        "Median hours from previous step",
        "Délai médian depuis l'étape précédente (h)",
    ),
    "event_type": ("Event type", "Type d'événement"),
    "step_conversion": ("Step conversion", "Conversion de l'étape"),
    "drop_off": ("Drop-off", "Abandon"),
    "journeys": ("Journeys", "Parcours"),
    "bucket": ("Bucket", "Tranche"),
    "time_to_convert": ("Time to order", "Délai de commande"),
    # segments
    "age_band": ("Age band", "Tranche d'âge"),
    "region": ("Region", "Région"),
    "city": ("City", "Ville"),
    "customer_type": ("Customer type", "Type de client"),
    "recency_days": ("Recency (days)", "Récence (jours)"),
    "frequency": ("Frequency", "Fréquence"),
    "monetary": ("Amount spent", "Montant dépensé"),
    "r_score": ("R score", "Score R"),
    "f_score": ("F score", "Score F"),
    "m_score": ("M score", "Score M"),
    "rfm_segment": ("RFM segment", "Segment RFM"),
    "channel_mix": ("Channel mix", "Profil de canaux"),
    "consent_marketing": ("Marketing consent", "Consentement marketing"),
    "consent_analytics": ("Analytics consent", "Consentement mesure d'audience"),
    # maturity and its parts
    "dimension": ("Dimension", "Dimension"),
    "indicator": ("Indicator", "Indicateur"),
    "unit": ("Unit", "Unité"),
    "poor": ("Poor", "Faible"),
    "good": ("Good", "Bon"),
    "measures": ("What it measures", "Ce qu'il mesure"),
    "detail": ("Detail", "Détail"),
    "score": ("Score", "Score"),
    "level": ("Level", "Niveau"),
    "level_name": ("Level name", "Nom du niveau"),
    "weight": ("Weight", "Poids"),
    "known": ("Known", "Connu"),
    "unknown": ("Unknown", "Inconnu"),
    "before": ("Before", "Avant"),
    "after": ("After", "Après"),
    "kind": ("Kind", "Type"),
    "supported": ("Supported", "Possible"),
    "reasons": ("Reasons", "Raisons"),
    # data quality, quarantine, channels
    "table": ("Table", "Table"),
    "rows": ("Rows", "Lignes"),
    "latest": ("Latest", "Plus récent"),
    "table_name": ("Table", "Table"),
    "batches": ("Batches", "Lots"),
    "rows_read": ("Rows read", "Lignes lues"),
    "accepted": ("Accepted", "Acceptées"),
    "duplicates": ("Duplicates", "Doublons"),
    "quarantined": ("Quarantined", "En quarantaine"),
    "last_ingest": ("Last ingest", "Dernier import"),
    "reason": ("Reason", "Motif"),
    "ingest_batch": ("Ingest batch", "Lot d'import"),
    "source_file": ("Source file", "Fichier source"),
    "source_row": ("Source row", "Ligne source"),
    "column_name": ("Column", "Colonne"),
    "message": ("Message", "Message"),
    "raw_record": ("Raw record", "Enregistrement brut"),
    "touchpoints": ("Touchpoints", "Points de contact"),
    "source": ("Source", "Source"),
    "medium": ("Medium", "Support"),
    # goals
    "goal": ("Goal", "Objectif"),
    "segment": ("Segment", "Segment"),
    "start": ("Start", "Début"),
    "deadline": ("Deadline", "Échéance"),
    "status": ("Status", "Statut"),
    "baseline": ("Baseline", "Référence"),
    "target": ("Target", "Cible"),
    "current": ("Current", "Actuel"),
    "current_period": ("Current period", "Période en cours"),
    "progress": ("Progress", "Progression"),
    "projection": ("Projection", "Projection"),
    "projection_low": ("Projection, low", "Projection basse"),
    "projection_high": ("Projection, high", "Projection haute"),
    "probability": ("Probability", "Probabilité"),
    "days_left": ("Days left", "Jours restants"),
    # timeline and runs
    "at": ("When", "Date"),
    "what": ("What", "Événement"),
    "amount": ("Amount", "Montant"),
    "reference": ("Reference", "Référence"),
    "run_id": ("Run", "Calcul"),
    "started_at": ("Started", "Début"),
    "finished_at": ("Finished", "Fin"),
    "settings_hash": ("Settings fingerprint", "Empreinte des réglages"),
    "rules_version": ("Rules version", "Version des règles"),
    "row_counts": ("Rows per table", "Lignes par table"),
    # KPIs: a period the data covers in part
    "partial": ("Partial period", "Période partielle"),
    # customer value
    "cohort": ("Cohort", "Cohorte"),
    "customers": ("Customers", "Clients"),
    "active": ("Active", "Actifs"),
    "repeat_customers": ("Repeat customers", "Clients réguliers"),
    "repeat_rate": ("Repeat rate", "Taux de réachat"),
    "cumulative_revenue": ("Cumulative revenue", "Chiffre d'affaires cumulé"),
    "cumulative_revenue_per_customer": (
        "Cumulative revenue per customer",
        "Chiffre d'affaires cumulé par client",
    ),
    "customer_id": ("Customer", "Client"),
    "recency": ("Recency", "Récence"),
    "T": ("Age (T)", "Ancienneté (T)"),
    "monetary_value": ("Mean repeat order", "Panier moyen des réachats"),
    "expected_purchases": ("Expected purchases", "Achats attendus"),
    "p_alive": ("P(alive)", "P(actif)"),
    "expected_value": ("Expected order value", "Panier attendu"),
    "clv": ("CLV", "CLV"),
    "acquisition_channel": ("Acquisition channel", "Canal d'acquisition"),
    "mean_clv": ("Mean CLV", "CLV moyenne"),
    "mean_ltv": ("Mean LTV", "LTV moyenne"),
    "total_clv": ("Total CLV", "CLV totale"),
    "cac": ("CAC", "CAC"),
    "ltv_cac": ("LTV/CAC", "LTV/CAC"),
    "parameter": ("Parameter", "Paramètre"),
    "std_error": ("Standard error", "Erreur type"),
    "predicted": ("Predicted", "Prédit"),
    "actual": ("Actual", "Réel"),
}
"""Column headers: `column_label(column, language)`."""

MODELS: dict[str, Pair] = {
    "first_touch": ("First touch", "Premier contact"),
    "last_touch": ("Last touch", "Dernier contact"),
    "last_non_direct": ("Last non-direct touch", "Dernier contact non direct"),
    "linear": ("Linear", "Linéaire"),
    "position_based": ("Position-based (U)", "En U (selon la position)"),
    "j_shaped": ("J-shaped", "En J"),
    "inverse_j": ("Inverse J", "En J inversé"),
    "time_decay": ("Time decay", "Dégressif dans le temps"),
    "same_touch": ("Same session", "Même session"),
    "participation": ("Participation", "Participation"),
    "markov": ("Markov", "Markov"),
    "markov_2": ("Markov, order 2", "Markov d'ordre 2"),
    "markov_3": ("Markov, order 3", "Markov d'ordre 3"),
    "markov_4": ("Markov, order 4", "Markov d'ordre 4"),
    "shapley": ("Shapley", "Shapley"),
    "shapley_ordered": ("Ordered Shapley", "Shapley ordonné"),
}
"""The built-in attribution models (columns of the `shares` part, values of `model`)."""

KPI_FR: dict[str, str] = {
    "revenue": "Chiffre d'affaires",
    "orders": "Commandes",
    "average_basket": "Panier moyen",
    "margin": "Marge",
    "buyers": "Acheteurs",
    "new_customers": "Nouveaux clients",
    "returning_customers": "Clients récurrents",
    "repeat_purchase_rate": "Taux de réachat",
    "retention_rate": "Taux de rétention",
    "churn_rate": "Taux d'attrition (churn)",
    "clv_historical": "Valeur client historique",
    "clv_margin": "Marge client historique",
    "spend": "Dépenses média",
    "cac": "Coût d'acquisition client (CAC)",
    "roas": "Retour sur dépenses publicitaires (ROAS)",
    "roi": "Retour sur investissement (ROI)",
    "ltv_cac": "Ratio LTV / CAC",
    "conversion_rate": "Taux de conversion",
    "omnichannel_conversion_rate": "Taux de conversion des clients omnicanaux",
    "sessions": "Visites",
    "ctr": "Taux de clic (CTR)",
    "interaction_rate": "Taux d'interaction",
    "email_open_rate": "Taux d'ouverture des e-mails",
    "email_open_rate_human": "Taux d'ouverture des e-mails (hors ouvertures automatiques)",
    "machine_open_share": "Part des ouvertures automatiques",
    "email_click_rate": "Taux de clic des e-mails",
    "email_click_to_open_rate": "Taux de réactivité des e-mails (clics / ouvertures)",
    "sms_click_rate": "Taux de clic des SMS",
    "push_open_rate": "Taux d'ouverture des notifications push",
    "social_engagement_rate": "Taux d'engagement sur les réseaux sociaux",
    "app_installs": "Installations de l'application",
    "time_on_site": "Temps passé sur le site ou l'application",
    "nps": "Indice de recommandation (NPS)",
    "csat": "Satisfaction client (CSAT)",
    "ces": "Score d'effort client (CES)",
    "review_score": "Note moyenne des avis",
    "return_rate": "Taux de retour",
    "click_and_collect_share": "Part du retrait en magasin (click & collect)",
    "ship_from_store_share": "Part des expéditions depuis le magasin (ship-from-store)",
    "contacts": "Contacts au service client",
    "cost_per_contact": "Coût par contact",
}
"""French names of the KPIs of `omnimetrics.metrics.kpi_catalogue.KPIS` (English: their
`.label`, not written twice)."""

MONTHS: dict[str, tuple[str, ...]] = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
}  # fmt: skip

COGNATES = frozenset({
    "attribution", "segment", "column.conversions", "column.segment",
    "column.dimension", "column.score", "column.table", "column.table_name", "column.message",
    "column.source", "column.projection", "model.participation", "model.markov", "model.shapley",
    "column.clv", "column.cac", "column.ltv_cac", "column.experiment",
})  # fmt: skip
"""Keys whose French word is the English one, on purpose (the same word in both languages)."""

NAMESPACES: Mapping[str, Mapping[str, Pair]] = {
    "": UI, "section.": SECTIONS, "column.": COLUMNS, "model.": MODELS,
}  # fmt: skip


def _by_language() -> dict[str, dict[str, str]]:
    words: dict[str, dict[str, str]] = {language: {} for language in LANGUAGES}
    for prefix, pairs in NAMESPACES.items():
        for key, pair in pairs.items():
            for language, word in zip(LANGUAGES, pair, strict=True):
                words[language][prefix + key] = word
    return words


WORDS: dict[str, dict[str, str]] = _by_language()
"""Language -> key -> word, every namespace in one (`section.funnel`, `column.revenue`...)."""
ENGLISH = WORDS[LANGUAGES[0]]


def label(key: str, language: str = "en") -> str:
    """The word for `key` in `language`, else in English, else the key made readable
    ("time_to_convert" -> "Time to convert")."""
    word = _words(language).get(key)
    if word is None:
        word = ENGLISH.get(key)
    return readable(key) if word is None else word


def section_label(name: str, language: str = "en") -> str:
    """The title of a result or part, by its name (`Result.name`)."""
    return label("section." + name, language)


def column_label(column: str, language: str = "en") -> str:
    """The header of a column; a column named after an attribution model (the `shares` part)
    gets the model's name."""
    if "column." + column not in ENGLISH and "model." + column in ENGLISH:
        return label("model." + column, language)
    return label("column." + column, language)


def model_label(name: str, language: str = "en") -> str:
    """The name of an attribution model; a model of the user's own keeps its name."""
    return _words(language).get("model." + name) or ENGLISH.get("model." + name) or name


def kpi_label(name: str, language: str = "en") -> str:
    """The name of a KPI: French from `KPI_FR`, English from the catalogue's `.label`."""
    _words(language)
    if language == "fr" and name in KPI_FR:
        return KPI_FR[name]
    from omnimetrics.metrics.kpi_catalogue import KPIS  # the catalogue loads the engine

    return KPIS[name].label if name in KPIS else readable(name)


def month_label(day: date, language: str = "en") -> str:
    """The month of `day` and its year: "January 2026", "janvier 2026"."""
    _words(language)
    return f"{MONTHS[language][day.month - 1]} {day.year}"


def readable(key: str) -> str:
    """A key as words: its last dotted part, underscores as spaces, a capital first letter."""
    text = key.rpartition(".")[2].replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _words(language: str) -> dict[str, str]:
    """The words of `language`; an unknown language is an error that names the known ones."""
    if language not in WORDS:
        allowed = " or ".join(f'"{name}"' for name in LANGUAGES)
        raise ConfigError(f"language must be {allowed}; got {language!r}.")
    return WORDS[language]
