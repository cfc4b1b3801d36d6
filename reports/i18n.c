/* i18n: the renderers' own labels in en, it, fr and zh. Fault texts come from the catalogue. */
#include "i18n.h"

#include <string.h>

struct label {
	const char *key;
	const char *text[4]; /* en, it, fr, zh */
};

static const struct label labels[] = {
    {"title", {"Diagnostic report", "Rapporto diagnostico", "Rapport de diagnostic", "诊断报告"}},
    {"device", {"Device", "Dispositivo", "Appareil", "设备"}},
    {"model", {"Model", "Modello", "Modèle", "型号"}},
    {"product_type", {"Model identifier", "Identificativo modello", "Identifiant du modèle", "型号标识符"}},
    {"unknown_device", {"Unknown device", "Dispositivo sconosciuto", "Appareil inconnu", "未知设备"}},
    {"serial", {"Serial number", "Numero di serie", "Numéro de série", "序列号"}},
    {"ios", {"iOS version", "Versione iOS", "Version d’iOS", "iOS 版本"}},
    {"udid", {"UDID", "UDID", "UDID", "UDID"}},
    {"mode", {"Mode", "Modalità", "Mode", "模式"}},
    {"result", {"Result", "Esito", "Résultat", "结果"}},
    {"outcome_pass", {"No faults found", "Nessun guasto rilevato", "Aucune panne détectée", "未发现故障"}},
    {"outcome_fail", {"Faults found", "Guasti rilevati", "Pannes détectées", "发现故障"}},
    {"outcome_incomplete",
     {"Diagnosis incomplete", "Diagnosi incompleta", "Diagnostic incomplet", "诊断未完成"}},
    {"faults", {"Faults", "Guasti", "Pannes", "故障"}},
    {"no_faults", {"None.", "Nessuno.", "Aucune.", "无。"}},
    {"part", {"Part to replace", "Parte da sostituire", "Pièce à remplacer", "需更换部件"}},
    {"action", {"Action", "Intervento", "Action", "处理措施"}},
    {"evidence", {"Evidence", "Evidenze", "Éléments techniques", "技术依据"}},
    {"found_by", {"found by", "rilevato da", "détecté par", "检出自"}},
    {"sev_critical", {"critical", "critico", "critique", "严重"}},
    {"sev_major", {"major", "grave", "majeur", "重要"}},
    {"sev_minor", {"minor", "lieve", "mineur", "轻微"}},
    {"sev_info", {"information", "informazione", "information", "提示"}},
    {"readings", {"Readings", "Misure", "Mesures", "读数"}},
    {"battery", {"Battery", "Batteria", "Batterie", "电池"}},
    {"health",
     {"Battery health (maximum capacity)", "Salute della batteria (capacità massima)",
      "État de la batterie (capacité maximale)", "电池健康度（最大容量）"}},
    {"capacity", {"capacity", "capacità", "capacité", "容量"}},
    {"design", {"design", "di progetto", "d’origine", "设计"}},
    {"cycles", {"Charge cycles", "Cicli di carica", "Cycles de charge", "充电循环次数"}},
    {"temperature", {"Temperature", "Temperatura", "Température", "温度"}},
    {"no_reading", {"no reading", "nessuna lettura", "aucune mesure", "无读数"}},
    {"storage", {"Storage", "Memoria", "Stockage", "存储空间"}},
    {"storage_fmt",
     {"%s free / %s total", "%s liberi / %s totali", "%s libres / %s au total", "可用 %s / 共 %s"}},
    {"crashes", {"Crash reports", "Rapporti di arresto anomalo", "Rapports de plantage", "崩溃报告"}},
    {"panics", {"kernel panics", "panic del kernel", "paniques du noyau", "内核崩溃"}},
    {"resets", {"forced restarts", "riavvii forzati", "redémarrages forcés", "强制重启"}},
    {"signatures", {"Log signatures", "Firme nel registro", "Signatures dans le journal", "日志特征"}},
    {"probe_errors",
     {"Readings that could not be taken", "Letture non riuscite", "Lectures impossibles", "未能读取的项目"}},
    {"questions",
     {"Questions for the technician", "Domande per il tecnico", "Questions pour le technicien",
      "需技术员回答的问题"}},
    {"answer_with", {"answer with", "rispondere con", "répondre avec", "回答方式"}},
    {"answers", {"Technician answers", "Risposte del tecnico", "Réponses du technicien", "技术员的回答"}},
    {"tree_errors",
     {"Diagnostic tree errors", "Errori degli alberi diagnostici", "Erreurs des arbres de diagnostic",
      "诊断树错误"}},
    {"trees", {"Diagnostic trees", "Alberi diagnostici", "Arbres de diagnostic", "诊断树"}},
    {"nodes", {"nodes visited", "nodi visitati", "nœuds visités", "个已访问节点"}},
    {"signature", {"Signature", "Firma", "Signature", "签名"}},
    {"verified", {"verified", "verificata", "vérifiée", "已验证"}},
    {"not_verified", {"DOES NOT VERIFY", "NON VERIFICATA", "NON VÉRIFIÉE", "验证失败"}},
    {"warning",
     {"Warning: the signature of this report does not verify. It may have been altered: do not rely on it.",
      "Attenzione: la firma di questo rapporto non è valida. Potrebbe essere stato modificato: non "
      "fidatevi del contenuto.",
      "Attention : la signature de ce rapport n’est pas valide. Il a pu être modifié : ne vous y fiez pas.",
      "警告：本报告的签名验证失败，内容可能已被篡改，请勿采信。"}},
    {"key_id", {"Key id", "ID della chiave", "Identifiant de clé", "密钥 ID"}},
    {"how_verify", {"How to verify", "Come verificare", "Comment vérifier", "如何验证"}},
    {"verify_text",
     {"This report is signed by the repair bench (Ed25519). To check that nobody has changed it, run:",
      "Questo rapporto è firmato dal banco di riparazione (Ed25519). Per controllare che nessuno lo "
      "abbia modificato, eseguire:",
      "Ce rapport est signé par le banc de réparation (Ed25519). Pour vérifier que personne ne l’a "
      "modifié, lancez :",
      "本报告由维修检测台签名（Ed25519）。如需确认报告未被修改，请运行："}},
    {"report_id", {"Report", "Rapporto", "Rapport", "报告编号"}},
    {"created", {"Created", "Creato", "Créé", "生成时间"}},
    {"captured", {"Device read at", "Lettura del dispositivo", "Lecture de l’appareil", "设备读取时间"}},
    {"bench", {"Bench", "Banco", "Banc", "检测台"}},
    {"ticket", {"Ticket", "Pratica", "Dossier", "工单"}},
    {"technical", {"Technical details", "Dettagli tecnici", "Détails techniques", "技术细节"}},
    {"snapshot", {"Snapshot SHA-256", "SHA-256 della lettura", "SHA-256 de la lecture", "读取数据 SHA-256"}},
    {"none", {"none", "nessuno", "aucun", "无"}},
    {"gauge_label",
     {"Battery health %s", "Salute della batteria %s", "État de la batterie %s", "电池健康度 %s"}},
    {"customer_intro",
     {"What we found, in plain words:", "Cosa abbiamo trovato, in parole semplici:",
      "Ce que nous avons trouvé, en termes simples :", "检测结果（通俗说明）："}},
};

static int
lang_index(const char *lang)
{
	static const char *const langs[] = {"en", "it", "fr", "zh"};

	for (int i = 0; i < 4; i++)
		if (lang != NULL && strcmp(lang, langs[i]) == 0)
			return i;
	return 0;
}

const char *
i18n_label(const char *lang, const char *key)
{
	int li = lang_index(lang);

	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strcmp(labels[i].key, key) == 0)
			return labels[i].text[li];
	return key;
}

int
i18n_known_lang(const char *lang)
{
	return lang != NULL && (strcmp(lang, "en") == 0 || strcmp(lang, "it") == 0 ||
	                        strcmp(lang, "fr") == 0 || strcmp(lang, "zh") == 0);
}
