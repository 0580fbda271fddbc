"""Every registered experiment's quick mode runs and its claim checks hold.

The expected check names are listed here so that a check cannot disappear
unnoticed; checks marked ``known_gap`` are reported but not asserted.
"""

import pytest

from mintlab.experiments import experiments, get_experiment

EXPECTED_CHECKS = {
    "kd-dd-survey": {"herding_beats_random", "gradient_matching_beats_random",
                     "distribution_matching_beats_random", "relabel_beats_random",
                     "soft_labels_beat_hard_label_methods", "kd_beats_cross_entropy",
                     "feature_kd_at_least_kd"},
    "d3m": {"d3m_1v_beats_random", "d3m_4v_beats_random", "d3m_1v_beats_herding",
            "d3m_4v_beats_herding", "d3m_1v_stores_quarter"},
    "coreset-expansion": {"expansion_beats_coreset_alone", "expansion_beats_random",
                          "variability_helps", "equal_pixel_storage"},
    "vq-soft-labels": {"vq_keeps_90pct_of_accuracy", "vq_labels_10x_smaller", "vq_beats_top1",
                       "vq_beats_top3", "vq_beats_1bit", "vq_beats_pca5"},
    "zs-svd": {"zs_beats_uniform_whitening_20", "zs_beats_uniform_whitening_40",
               "zs_beats_uniform_whitening_60", "correction_helps_at_60",
               "ranks_are_heterogeneous"},
    "io-svd": {"io_beats_uniform_whitening_20", "io_beats_uniform_whitening_40",
               "io_beats_uniform_whitening_60", "loss_aware_remap_beats_uniform_remap_70",
               "hybrid_beats_low_rank_only_70", "loss_aware_remap_beats_uniform_remap_80",
               "hybrid_beats_low_rank_only_80"},
    "prehab": {"prehab_smaller_immediate_drop_40", "prehab_better_after_recovery_40",
               "prehab_smaller_immediate_drop_60", "prehab_better_after_recovery_60"},
    "conqur": {"conqur_beats_hadamard", "conqur_beats_random", "rotation_beats_none",
               "calibration_memory_tenfold_smaller", "w8a8_near_lossless",
               "corner_alignment_increases"},
    "sopt": {"opt1d_equals_lp", "opt1d_faster_than_lp", "sopt_more_robust_than_sw"},
    "s3w": {"ri_s3w_tracks_w2", "ri_s3w_as_accurate_as_ssw", "s3w_faster_than_ssw",
            "ri_s3w_rotation_invariant"},
    "rethinking-sw": {"tuned_sw_matches_best_variant", "lr_search_is_what_matters"},
    "est-plans": {"est_plan_is_coupling", "est_cost_upper_bounds_ot", "est_triangle_inequality",
                  "est_symmetric", "large_beta_reaches_min_slice"},
    "min-stp": {"transfer_cost_close_to_per_pair", "transfer_much_faster",
                "minibatch_close_to_full_batch"},
    "lopt": {"lopt_ranks_like_opt", "lopt_beats_lot_under_mass_change",
             "pairwise_matrix_speedup"},
    "lcot": {"lcot_ranks_like_circular_w2", "lcot_matrix_faster",
             "lcot_classifies_as_well_as_w2"},
    "lssot": {"matches_pot_within_mc_error", "lssot_matrix_faster_than_ssw",
              "lssot_tracks_geodesic_w2"},
    "ptlp": {"ptlp_beats_tlp_under_noise", "ptlp_beats_l2_under_noise", "sliced_ptlp_faster",
             "sliced_ptlp_accuracy_close"},
    "slosh": {"swe_beats_poolings", "lsh_keeps_recall", "lsh_query_faster_than_brute_force"},
    "emperor": {"emperor_separates_families", "emperor_beats_covariance_pooling",
                "emperor_cost_comparable_to_swe"},
    "backbone-vs-pooling": {"complex_pooling_helps_simple_backbone_more",
                            "pooling_matters_more_than_width", "pairwise_combination_helps"},
    "constrained-swe": {"constrained_beats_unconstrained", "constrained_beats_random",
                        "constrained_plans_closer_to_optimal"},
    "espformer": {"esp_doubly_stochastic", "esp_as_accurate_as_softmax",
                  "esp_faster_than_sinkhorn"},
    "lotformer": {"lot_rows_sum_to_one", "lot_columns_nearly_balanced",
                  "lot_doubly_stochastic_when_converged", "lot_time_linear",
                  "lot_accuracy_close_to_softmax"},
    "luna": {"luna_matches_softmax", "learned_features_beat_fixed", "luna_time_linear",
             "streaming_equals_causal"},
    "pgw": {"pgw_retrieves_better_than_gw", "pgw_close_to_mass_oracle", "fw1_fw2_same_objective"},
    "fpgw": {"fpgw_matches_better_than_fgw", "fpgw_leaves_extra_nodes",
             "sinkhorn_agrees_with_frank_wolfe"},
    "lpgw": {"lpgw_faster_than_pairwise", "lpgw_tracks_pgw", "lpgw_retrieval_close_to_pgw"},
    "wegl": {"wegl_competitive_with_wl", "wegl_accurate"},
    "task-embedding": {"embedding_tracks_exact_distance", "identical_tasks_at_zero",
                       "embedding_faster", "closer_tasks_transfer_better"},
    "min-gsgw": {"gw_objective_close_to_pot_fw", "faster_than_pot_fw",
                 "amortised_slicer_transfers", "rigid_motion_changes_little"},
    "rcdt-ns": {"rcdt_ns_beats_pixel_ns_few_labels", "rcdt_ns_beats_cnn_few_labels",
                "digits_rcdt_ns_beats_pixel_ns_few_labels"},
    "pranc": {"pranc_beats_dense_of_same_size", "pranc_close_to_dense", "rebuild_is_exact"},
    "nola": {"nola_matches_lora_r1", "adaptation_recovers_the_shift"},
    "mcnc": {"mcnc_at_least_as_accurate_as_pranc", "mcnc_rebuilds_faster_than_pranc"},
    "cot": {"cot_beats_ac", "cot_beats_doc", "cot_beats_atc", "cot_robust_to_pseudo_label_shift"},
    "cott": {"atc_optimism_grows_with_pseudo_label_shift", "cot_less_optimistic_than_atc",
             "cott_at_most_cot", "cott_beats_baselines"},
    "opt-registration": {"opt_beats_nn", "opt_beats_ot", "sliced_opt_beats_nn",
                         "sliced_opt_beats_ot", "sliced_opt_faster_than_opt"},
    "sinkhorn-drifting": {"sinkhorn_better_at_low_temperature",
                          "sinkhorn_less_temperature_sensitive", "sinkhorn_covers_all_ring_modes",
                          "sinkhorn_covers_more_digit_classes_at_low_temperature",
                          "sinkhorn_full_class_coverage_across_sweep"},
    "transport-mean-flows": {"ot_pairing_improves_one_step",
                             "transport_mean_flow_matches_multistep_flow",
                             "plain_mean_flow_falls_short_of_multistep_flow"},
    "lifelong-metrics": {"replay_maintains_better_than_fine_tuning",
                         "gpm_maintains_better_than_fine_tuning", "fine_tuning_most_plastic"},
    "sparse-hetero-dropout": {f"{s}_{c}" for s in ("swiss_roll", "permuted_digits")
                              for c in ("accuracy_above_gpm", "bwt_above_gpm",
                                        "beats_ewc_and_fine_tuning")},
    "mtl-vs-cl": {"continual_beats_multitask", "adversarial_task_hurts_multitask"},
    "brainwash": {"fine_tuning_forgets_more_when_poisoned", "ewc_forgets_more_when_poisoned",
                  "perturbation_within_bound"},
    "covarnav": {"forget_accuracy_at_chance", "retained_accuracy_kept", "better_than_baselines"},
    "ct-graph": {"sparsity_exponential_in_depth", "decay_per_level_matches_theory",
                 "random_success_matches_closed_form", "wait_states_lengthen_as_configured",
                 "longer_with_more_waiting", "optimal_policy_reaches_optimal_return"},
    "lrl-modulating-masks": {"masks_no_forgetting", "fine_tuning_forgets",
                             "linear_comb_learns_faster"},
    "mosaic": {"mosaic_fewer_steps_than_isolated", "mosaic_fewer_steps_than_indiscriminate",
               "mosaic_imports_from_own_family"},
    "kg-fairdiff": {"kg_lowers_bias_p_vs_raw", "kg_lowers_bias_p_vs_template",
                    "kg_lowers_bias_w_vs_raw", "kg_lowers_bias_w_vs_template",
                    "kg_lowers_intersectional_bias", "fidelity_kept",
                    "loop_terminates_within_bound"},
    "surgformer": {"surgformer_beats_plain_gnn_uncut", "surgformer_beats_plain_gnn_cut",
                   "surgformer_beats_node_mlp_uncut", "surgformer_beats_node_mlp_cut",
                   "faster_than_fem_on_large_mesh"},
    "surgical-gesture": {"prompt_model_matches_classifier_on_seen", "zero_shot_above_chance"},
}


def test_every_registered_experiment_is_listed_here():
    assert set(experiments()) == set(EXPECTED_CHECKS)


# one xdist worker runs the experiments and the Dask-cluster tests one after another, so the
# experiments' timing checks never share the cores with a cluster's worker processes
@pytest.mark.xdist_group("heavy")
@pytest.mark.parametrize("slug", sorted(EXPECTED_CHECKS))
def test_quick_checks_hold(slug):
    res = get_experiment(slug).run(quick=True, seed=0)
    assert not res.failed_checks, {k: res.checks[k] for k in res.failed_checks}
    assert set(res.checks) == EXPECTED_CHECKS[slug]
    assert res.figures
