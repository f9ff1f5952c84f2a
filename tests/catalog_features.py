"""Feature-construction cases for the shared parity suite: River's `OrdinalEncoder` and
`PolynomialExtender` in front of linear, naive Bayes and tree models (case id, dataset, factory).

The encoders sit behind `compose.Discard` rather than `compose.Select` (which raises on a missing
key), so River answers the missing-key probes too.
"""

from __future__ import annotations

from river import compose, feature_extraction, linear_model, naive_bayes, preprocessing, tree

PHISHING_DISCRETE = ("empty_server_form_handler", "popup_window", "https", "age_of_domain")
PHISHING_OTHER = ("request_from_other_domain", "anchor_from_other_domain", "is_popular",
                  "long_url", "ip_in_url")


def _coded(coded: tuple[str, ...], scaled: tuple[str, ...], encoder):
    """`coded` keys through the ordinal encoder, `scaled` keys through a StandardScaler."""
    return ((compose.Discard(*scaled) | encoder)
            + (compose.Discard(*coded) | preprocessing.StandardScaler()))


CASES = [
    ("union(ordinal,scaler)|scaler|linreg", "ChickWeights",
     lambda: _coded(("chick", "diet"), ("time",), preprocessing.OrdinalEncoder())
     | preprocessing.StandardScaler() | linear_model.LinearRegression()),
    # raw `time` next to the codes: Core ML's Scale multiplies by 1/divisor, which a tree behind
    # a union cannot fold back into River's division (a split one ulp off; not the encoder's)
    ("union(ordinal(unknown=-1,none=-2),discard)|htr", "ChickWeights",
     lambda: ((compose.Discard("time")
               | preprocessing.OrdinalEncoder(unknown_value=-1, none_value=-2))
              + compose.Discard("chick", "diet"))
     | tree.HoeffdingTreeRegressor(grace_period=10, delta=0.5, tau=0.5)),
    ("union(ordinal,scaler)|logreg", "Phishing",
     lambda: _coded(PHISHING_DISCRETE, PHISHING_OTHER, preprocessing.OrdinalEncoder())
     | linear_model.LogisticRegression()),
    ("scaler|poly2|logreg", "Phishing",
     lambda: preprocessing.StandardScaler() | feature_extraction.PolynomialExtender()
     | linear_model.LogisticRegression()),
    ("scaler|poly3-interactions-bias|scaler|linreg", "TrumpApproval",
     lambda: preprocessing.StandardScaler()
     | feature_extraction.PolynomialExtender(degree=3, interaction_only=True, include_bias=True)
     | preprocessing.StandardScaler() | linear_model.LinearRegression()),
    ("scaler|poly3|gaussian-nb", "Bananas",
     lambda: preprocessing.StandardScaler() | feature_extraction.PolynomialExtender(degree=3)
     | naive_bayes.GaussianNB()),
]
